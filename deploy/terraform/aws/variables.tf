# Required

variable "logs_bucket_name" {
  description = "Name of the S3 bucket for the models' prediction and ground-truth logs (the source, ground_truth and reference URIs of vigil.yaml, and the ingest API's writes)."
  type        = string
}

variable "reports_bucket_name" {
  description = "Name of the S3 bucket for evaluation reports (storage.reports)."
  type        = string
}

variable "registry_bucket_name" {
  description = "Name of the S3 bucket for the model registry and training runs (storage.registry)."
  type        = string
}

variable "worker_image" {
  description = "Container image of the Vigil worker, built from the repository's Dockerfile (its entrypoint is the worker binary)."
  type        = string
}

variable "vigil_config" {
  description = "The worker's vigil.yaml. It holds no secrets: its *_env fields name variables that `secrets` supplies."
  type        = string
}

variable "temporal_address" {
  description = "host:port of the Temporal frontend (VIGIL_TEMPORAL_ADDRESS; overrides temporal.address of vigil_config)."
  type        = string
}

variable "vpc_id" {
  description = "VPC the worker's tasks run in."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets of the worker's tasks (private subnets with a NAT gateway or VPC endpoints for S3, SageMaker, ECR, CloudWatch Logs and Temporal)."
  type        = list(string)
}

# Optional

variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "vigil"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "temporal_namespace" {
  description = "Temporal namespace (VIGIL_TEMPORAL_NAMESPACE); null keeps temporal.namespace of vigil_config."
  type        = string
  default     = null
}

variable "secrets" {
  description = "Environment variables of the worker from Secrets Manager secrets or SSM parameters: variable name => ARN (a Secrets Manager ARN may end in :json-key:: to pick one key). Name here every variable that vigil_config's *_env fields name."
  type        = map(string)
  default     = {}
}

variable "secrets_kms_key_arn" {
  description = "Customer-managed KMS key that encrypts the secrets, if any (the task execution role may decrypt with it)."
  type        = string
  default     = null
}

variable "environment" {
  description = "Plain (non-secret) environment variables of the worker."
  type        = map(string)
  default     = {}
}

variable "ecs_cluster_arn" {
  description = "ECS cluster to run the worker in; null creates one."
  type        = string
  default     = null
}

variable "desired_count" {
  description = "Number of worker tasks. Workers share the task queue; two or more survive one task's loss."
  type        = number
  default     = 2
}

variable "cpu" {
  description = "Fargate task CPU units (1024 = 1 vCPU)."
  type        = number
  default     = 1024
}

variable "memory" {
  description = "Fargate task memory in MiB."
  type        = number
  default     = 2048
}

variable "http_port" {
  description = "Port of the worker's HTTP server (/healthz, /readyz, /metrics, ingest, Slack interactions)."
  type        = number
  default     = 8088
}

variable "ingress_cidr_blocks" {
  description = "CIDR blocks allowed to reach the worker's HTTP port (Prometheus, ingest clients, a load balancer)."
  type        = list(string)
  default     = []
}

variable "assign_public_ip" {
  description = "Give the tasks public IPs (public subnets without NAT)."
  type        = bool
  default     = false
}

variable "config_init_image" {
  description = "Image with a POSIX shell that writes vigil_config to the volume the worker reads it from (the worker image has no shell)."
  type        = string
  default     = "public.ecr.aws/docker/library/busybox:1.37.0"
}

variable "log_retention_days" {
  description = "Retention of the worker's CloudWatch log group."
  type        = number
  default     = 30
}

variable "kms_key_arn" {
  description = "KMS key for the buckets' server-side encryption (aws:kms); null uses SSE-S3 (AES256)."
  type        = string
  default     = null
}

variable "logs_expiration_days" {
  description = "Days after which prediction and ground-truth logs expire (keep them longer than the reference and retraining windows)."
  type        = number
  default     = 400
}

variable "reports_expiration_days" {
  description = "Days after which evaluation reports expire."
  type        = number
  default     = 365
}

variable "registry_noncurrent_days" {
  description = "Days a replaced version of a registry object is kept (the registry bucket is versioned; current model versions never expire)."
  type        = number
  default     = 90
}

variable "enable_sagemaker" {
  description = "Create the SageMaker execution role and let the worker run training jobs and update endpoints (trainer: sagemaker)."
  type        = bool
  default     = true
}

variable "sagemaker_endpoint_names" {
  description = "SageMaker endpoints the worker may point at new model versions (retrain.sagemaker.deploy.endpoint); empty: none."
  type        = list(string)
  default     = []
}

variable "data_bucket_arns" {
  description = "ARNs of further buckets holding model data that vigil_config reads (e.g. SageMaker data capture); the worker and SageMaker get read access."
  type        = list(string)
  default     = []
}
