output "logs_bucket" {
  description = "Bucket of prediction and ground-truth logs: use s3://<it>/<model>/predictions etc. as the models' source URIs."
  value       = aws_s3_bucket.this["logs"].id
}

output "reports_bucket" {
  description = "Bucket of evaluation reports: storage.reports = s3://<it>/reports."
  value       = aws_s3_bucket.this["reports"].id
}

output "registry_bucket" {
  description = "Bucket of the model registry: storage.registry = s3://<it>/registry."
  value       = aws_s3_bucket.this["registry"].id
}

output "worker_role_arn" {
  description = "The worker's IAM role (the ECS task role; for EKS, annotate the Helm chart's service account with an IRSA role of the same policy)."
  value       = aws_iam_role.worker.arn
}

output "sagemaker_role_arn" {
  description = "SageMaker execution role: retrain.sagemaker.role_arn of vigil.yaml (null without enable_sagemaker)."
  value       = var.enable_sagemaker ? aws_iam_role.sagemaker[0].arn : null
}

output "execution_role_arn" {
  description = "The ECS task execution role (image pulls, logs, secrets)."
  value       = aws_iam_role.execution.arn
}

output "ecs_cluster_arn" {
  description = "ECS cluster the worker runs in."
  value       = local.cluster_arn
}

output "ecs_service_name" {
  description = "ECS service of the worker."
  value       = aws_ecs_service.worker.name
}

output "log_group_name" {
  description = "CloudWatch log group of the worker's JSON logs."
  value       = aws_cloudwatch_log_group.worker.name
}

output "security_group_id" {
  description = "Security group of the worker tasks (allow it on the Temporal frontend)."
  value       = aws_security_group.worker.id
}
