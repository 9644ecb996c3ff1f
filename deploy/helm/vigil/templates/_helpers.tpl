{{/* Names and labels shared by every object of the release. */}}
{{- define "vigil.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "vigil.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vigil.labels" -}}
{{ include "vigil.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "vigil.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "vigil.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "vigil.tlsDir" -}}/etc/vigil/temporal-tls{{- end -}}

{{/*
vigil.config is vigil.yaml: .Values.config with the temporal connection and
worker.http_addr set from the chart's values, which win.
*/}}
{{- define "vigil.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- $t := dict "address" .Values.temporal.address "namespace" .Values.temporal.namespace "task_queue" .Values.temporal.taskQueue -}}
{{- if .Values.temporal.apiKey.secretName -}}
{{- $_ := set $t "api_key_env" "VIGIL_TEMPORAL_API_KEY" -}}
{{- end -}}
{{- if .Values.temporal.tls.enabled -}}
{{- $tls := dict -}}
{{- $dir := include "vigil.tlsDir" . -}}
{{- with .Values.temporal.tls.certKey }}{{ $_ := set $tls "cert_file" (printf "%s/%s" $dir .) }}{{ end -}}
{{- with .Values.temporal.tls.keyKey }}{{ $_ := set $tls "key_file" (printf "%s/%s" $dir .) }}{{ end -}}
{{- with .Values.temporal.tls.caKey }}{{ $_ := set $tls "ca_file" (printf "%s/%s" $dir .) }}{{ end -}}
{{- with .Values.temporal.tls.serverName }}{{ $_ := set $tls "server_name" . }}{{ end -}}
{{- $_ := set $t "tls" $tls -}}
{{- end -}}
{{- $_ := set $cfg "temporal" (mergeOverwrite (default dict $cfg.temporal) $t) -}}
{{- $w := default dict $cfg.worker -}}
{{- $_ := set $w "http_addr" (printf "0.0.0.0:%d" (int .Values.service.port)) -}}
{{- $_ := set $cfg "worker" $w -}}
{{- toYaml $cfg -}}
{{- end -}}
