resource "aws_ecs_cluster" "this" {
  count = var.ecs_cluster_arn == null ? 1 : 0
  name  = var.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
  tags = var.tags
}

locals {
  cluster_arn = var.ecs_cluster_arn == null ? aws_ecs_cluster.this[0].arn : var.ecs_cluster_arn
  config_dir  = "/etc/vigil"
  # VIGIL_* variables override vigil_config's temporal and worker sections.
  worker_environment = merge(var.environment, {
    VIGIL_TEMPORAL_ADDRESS = var.temporal_address
    VIGIL_HTTP_ADDR        = "0.0.0.0:${var.http_port}"
    AWS_REGION             = data.aws_region.current.name
    }, var.temporal_namespace == null ? {} : {
    VIGIL_TEMPORAL_NAMESPACE = var.temporal_namespace
  })
}

resource "aws_cloudwatch_log_group" "worker" {
  name              = "/ecs/${var.name}-worker"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_ecs_task_definition" "worker" {
  family                   = "${var.name}-worker"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.worker.arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
  # vigil.yaml lives in a task volume: the config container writes it, the
  # worker reads it (read-only), the worker's temporary files go to /tmp.
  volume {
    name = "config"
  }
  volume {
    name = "tmp"
  }
  container_definitions = jsonencode([
    {
      name       = "config"
      image      = var.config_init_image
      essential  = false
      entryPoint = ["sh", "-c"]
      command    = ["printf '%s' \"$VIGIL_CONFIG\" > ${local.config_dir}/vigil.yaml"]
      environment = [
        { name = "VIGIL_CONFIG", value = var.vigil_config },
      ]
      mountPoints = [
        { sourceVolume = "config", containerPath = local.config_dir, readOnly = false },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.worker.name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = "config"
        }
      }
    },
    {
      name                   = "worker"
      image                  = var.worker_image
      essential              = true
      command                = ["-config", "${local.config_dir}/vigil.yaml", "-log-format", "json"]
      readonlyRootFilesystem = true
      user                   = "65532:65532"
      portMappings = [
        { containerPort = var.http_port, protocol = "tcp", name = "http" },
      ]
      environment = [for k in sort(keys(local.worker_environment)) : { name = k, value = local.worker_environment[k] }]
      secrets     = [for k in sort(keys(var.secrets)) : { name = k, valueFrom = var.secrets[k] }]
      dependsOn = [
        { containerName = "config", condition = "SUCCESS" },
      ]
      mountPoints = [
        { sourceVolume = "config", containerPath = local.config_dir, readOnly = true },
        { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
      ]
      # The worker stops within its -stop-timeout (20s) of SIGTERM.
      stopTimeout = 30
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.worker.name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = "worker"
        }
      }
    },
  ])
  tags = var.tags
}

resource "aws_security_group" "worker" {
  name        = "${var.name}-worker"
  description = "Vigil worker tasks"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_egress_rule" "worker_all" {
  security_group_id = aws_security_group.worker.id
  description       = "Temporal, S3, SageMaker, notification APIs"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "worker_http" {
  for_each          = toset(var.ingress_cidr_blocks)
  security_group_id = aws_security_group.worker.id
  description       = "Worker HTTP: metrics, ingest, Slack interactions"
  ip_protocol       = "tcp"
  from_port         = var.http_port
  to_port           = var.http_port
  cidr_ipv4         = each.value
}

resource "aws_ecs_service" "worker" {
  name                               = "${var.name}-worker"
  cluster                            = local.cluster_arn
  task_definition                    = aws_ecs_task_definition.worker.arn
  desired_count                      = var.desired_count
  launch_type                        = "FARGATE"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  enable_execute_command             = false
  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.worker.id]
    assign_public_ip = var.assign_public_ip
  }
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  tags = var.tags
}
