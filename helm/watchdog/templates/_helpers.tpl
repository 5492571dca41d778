{{/* Names, labels and the checks every template shares. */}}

{{- define "watchdog.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "watchdog.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "watchdog.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "watchdog.selectorLabels" -}}
app.kubernetes.io/name: {{ include "watchdog.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "watchdog.labels" -}}
helm.sh/chart: {{ include "watchdog.chart" . }}
{{ include "watchdog.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: deploy-watchdog
{{- end }}

{{- define "watchdog.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "watchdog.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "watchdog.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* watchdog.yaml as text: a string value is kept as written (comments included), a map is rendered. */}}
{{- define "watchdog.daemonYaml" -}}
{{- $daemon := .Values.config.daemon | default dict }}
{{- if kindIs "string" $daemon }}
{{- $daemon }}
{{- else }}
{{- toYaml $daemon }}
{{- end }}
{{- end }}

{{/* The namespaces named by `type: kubernetes` targets that use the in-cluster account, one per line. */}}
{{- define "watchdog.targetNamespaces" -}}
{{- $daemon := include "watchdog.daemonYaml" . | fromYaml }}
{{- if hasKey $daemon "Error" }}
{{- fail (printf "config.daemon is not valid YAML: %s" (get $daemon "Error")) }}
{{- end }}
{{- $namespaces := list }}
{{- range $name, $target := ($daemon.targets | default dict) }}
{{- if and (kindIs "map" $target) (eq (toString $target.type) "kubernetes") }}
{{- /* A target with its own api_url or kubeconfig talks to another cluster with other credentials. */}}
{{- if not (or $target.api_url $target.kubeconfig) }}
{{- $namespaces = append $namespaces (required (printf "config.daemon.targets.%s needs a namespace" $name) $target.namespace) }}
{{- end }}
{{- end }}
{{- end }}
{{- range $.Values.rbac.extraNamespaces }}
{{- $namespaces = append $namespaces . }}
{{- end }}
{{- range ($namespaces | uniq | sortAlpha) }}
{{ . }}
{{- end }}
{{- end }}

{{/* True (non-empty) when the store is PostgreSQL: a postgresql URL, or a Secret declared to hold one. */}}
{{- define "watchdog.postgres" -}}
{{- if or (regexMatch "^postgres(ql)?(\\+[a-z0-9_]+)?://" .Values.database.url) .Values.database.existingSecret.name }}true{{ end }}
{{- end }}

{{/* Render-time refusals: each names the value to change. */}}
{{- define "watchdog.validate" -}}
{{- $replicas := int .Values.replicaCount }}
{{- if and (gt $replicas 1) (not (include "watchdog.postgres" .)) }}
{{- fail (printf "replicaCount is %d, but several replicas need a shared PostgreSQL store: set database.url to a postgresql:// URL or database.existingSecret.name to a Secret holding one (SQLite is a single file in one pod's volume)" $replicas) }}
{{- end }}
{{- if regexMatch "://[^/@]*:[^/@]*@" .Values.database.url }}
{{- fail "database.url holds a password: values are not secret. Put the whole URL in a Secret and name it in database.existingSecret" }}
{{- end }}
{{- if and (gt $replicas 1) .Values.persistence.enabled (not .Values.persistence.existingClaim) (has "ReadWriteOnce" .Values.persistence.accessModes) }}
{{- fail (printf "replicaCount is %d with a ReadWriteOnce data volume, which only one pod can mount: set persistence.enabled=false (reports then live in an emptyDir), or persistence.accessModes=[ReadWriteMany]" $replicas) }}
{{- end }}
{{- end }}
