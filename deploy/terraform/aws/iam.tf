data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  bucket_arns      = [for b in aws_s3_bucket.this : b.arn]
  object_arns      = [for b in aws_s3_bucket.this : "${b.arn}/*"]
  data_object_arns = [for arn in var.data_bucket_arns : "${arn}/*"]
  sagemaker_arn    = "arn:${data.aws_partition.current.partition}:sagemaker:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}"
}

# ---------------------------------------------------------------------------
# The worker's task role. Its actions are exactly the S3 and SageMaker calls
# of store/ and train/ (deploy/terraform_test.go derives them from the code).

resource "aws_iam_role" "worker" {
  name               = "${var.name}-worker"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "worker" {
  # ListObjectsV2: windows, registry versions, lineage hashes.
  statement {
    sid       = "ListBuckets"
    actions   = ["s3:ListBucket"]
    resources = concat(local.bucket_arns, var.data_bucket_arns)
  }
  # GetObject, PutObject (ingest, reports, registry, training exports),
  # DeleteObject (ingest rollback, registry cleanup).
  statement {
    sid       = "ReadWriteObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = local.object_arns
  }
  dynamic "statement" {
    for_each = length(var.data_bucket_arns) > 0 ? [1] : []
    content {
      sid       = "ReadDataObjects"
      actions   = ["s3:GetObject"]
      resources = local.data_object_arns
    }
  }
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [1]
    content {
      sid       = "BucketKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [var.kms_key_arn]
    }
  }
  # trainer: sagemaker. Jobs carry tags (vigil:model, vigil:run-id), so
  # creating them needs AddTags.
  dynamic "statement" {
    for_each = var.enable_sagemaker ? [1] : []
    content {
      sid       = "TrainingJobs"
      actions   = ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob", "sagemaker:AddTags"]
      resources = ["${local.sagemaker_arn}:training-job/*"]
    }
  }
  dynamic "statement" {
    for_each = var.enable_sagemaker ? [1] : []
    content {
      sid       = "PassSageMakerRole"
      actions   = ["iam:PassRole"]
      resources = [aws_iam_role.sagemaker[0].arn]
      condition {
        test     = "StringEquals"
        variable = "iam:PassedToService"
        values   = ["sagemaker.amazonaws.com"]
      }
    }
  }
  # retrain.sagemaker.deploy: a model and an endpoint config per version
  # (and per shadow or canary pair), then UpdateEndpoint and, between canary
  # steps, UpdateEndpointWeightsAndCapacities on the named endpoints only.
  dynamic "statement" {
    for_each = var.enable_sagemaker && length(var.sagemaker_endpoint_names) > 0 ? [1] : []
    content {
      sid       = "DeployModels"
      actions   = ["sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:CreateEndpointConfig", "sagemaker:DescribeEndpointConfig", "sagemaker:AddTags"]
      resources = ["${local.sagemaker_arn}:model/*", "${local.sagemaker_arn}:endpoint-config/*"]
    }
  }
  dynamic "statement" {
    for_each = var.enable_sagemaker && length(var.sagemaker_endpoint_names) > 0 ? [1] : []
    content {
      sid       = "UpdateEndpoints"
      actions   = ["sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpoint", "sagemaker:UpdateEndpointWeightsAndCapacities"]
      resources = [for e in var.sagemaker_endpoint_names : "${local.sagemaker_arn}:endpoint/${lower(e)}"]
    }
  }
}

resource "aws_iam_role_policy" "worker" {
  name   = "vigil-worker"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker.json
}

# ---------------------------------------------------------------------------
# The role SageMaker assumes for training jobs and for the models Vigil
# deploys (retrain.sagemaker.role_arn and deploy.role_arn).

resource "aws_iam_role" "sagemaker" {
  count              = var.enable_sagemaker ? 1 : 0
  name               = "${var.name}-sagemaker"
  assume_role_policy = data.aws_iam_policy_document.sagemaker_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "sagemaker_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "sagemaker" {
  # Training reads the exported data (under the registry) and writes the
  # model artifact there; hosting reads the artifact.
  statement {
    sid       = "ListBuckets"
    actions   = ["s3:ListBucket"]
    resources = concat([aws_s3_bucket.this["registry"].arn, aws_s3_bucket.this["logs"].arn], var.data_bucket_arns)
  }
  statement {
    sid       = "ReadData"
    actions   = ["s3:GetObject"]
    resources = concat(["${aws_s3_bucket.this["registry"].arn}/*", "${aws_s3_bucket.this["logs"].arn}/*"], local.data_object_arns)
  }
  statement {
    sid       = "WriteArtifacts"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.this["registry"].arn}/*"]
  }
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [1]
    content {
      sid       = "BucketKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [var.kms_key_arn]
    }
  }
  # Training and inference images from ECR.
  statement {
    sid       = "PullImages"
    actions   = ["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = ["*"]
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    resources = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:/aws/sagemaker/*"]
  }
  statement {
    sid       = "Metrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringLike"
      variable = "cloudwatch:namespace"
      values   = ["/aws/sagemaker/*"]
    }
  }
}

resource "aws_iam_role_policy" "sagemaker" {
  count  = var.enable_sagemaker ? 1 : 0
  name   = "vigil-sagemaker"
  role   = aws_iam_role.sagemaker[0].id
  policy = data.aws_iam_policy_document.sagemaker.json
}

# ---------------------------------------------------------------------------
# The ECS task execution role: pulls the images, writes the container logs,
# and reads the secrets into the worker's environment.

resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

locals {
  ssm_secret_arns     = [for arn in values(var.secrets) : arn if can(regex("^arn:[^:]+:ssm:", arn))]
  manager_secret_arns = distinct([for arn in values(var.secrets) : regex("^(arn:[^:]+:secretsmanager:[^:]+:[^:]+:secret:[^:]+)", arn)[0] if can(regex("^arn:[^:]+:secretsmanager:", arn))])
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "PullImages"
    actions   = ["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = ["*"]
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.worker.arn}:*"]
  }
  dynamic "statement" {
    for_each = length(local.manager_secret_arns) > 0 ? [1] : []
    content {
      sid       = "SecretsManager"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = local.manager_secret_arns
    }
  }
  dynamic "statement" {
    for_each = length(local.ssm_secret_arns) > 0 ? [1] : []
    content {
      sid       = "Parameters"
      actions   = ["ssm:GetParameters"]
      resources = local.ssm_secret_arns
    }
  }
  dynamic "statement" {
    for_each = var.secrets_kms_key_arn == null ? [] : [1]
    content {
      sid       = "DecryptSecrets"
      actions   = ["kms:Decrypt"]
      resources = [var.secrets_kms_key_arn]
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "vigil-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}
