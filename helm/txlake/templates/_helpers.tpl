{{/* Names */}}

{{- define "txlake.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "txlake.fullname" -}}
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

{{- define "txlake.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "txlake.labels" -}}
helm.sh/chart: {{ include "txlake.chart" . }}
{{ include "txlake.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "txlake.selectorLabels" -}}
app.kubernetes.io/name: {{ include "txlake.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector of the API pods (the sync pods carry component=sync). */}}
{{- define "txlake.apiSelectorLabels" -}}
{{ include "txlake.selectorLabels" . }}
app.kubernetes.io/component: api
{{- end }}

{{- define "txlake.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "txlake.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "txlake.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret the pods read their environment from ("" for none). */}}
{{- define "txlake.secretName" -}}
{{- if .Values.existingSecret }}
{{- .Values.existingSecret }}
{{- else if .Values.secret.create }}
{{- printf "%s-env" (include "txlake.fullname" .) }}
{{- end }}
{{- end }}

{{- define "txlake.pvcName" -}}
{{- default (printf "%s-lake" (include "txlake.fullname" .)) .Values.lake.persistence.existingClaim }}
{{- end }}

{{/* Whether the lake volume can be mounted on one node only. */}}
{{- define "txlake.lakeIsRWO" -}}
{{- if and .Values.lake.persistence.enabled (not (has "ReadWriteMany" .Values.lake.persistence.accessModes)) }}true{{ end }}
{{- end }}

{{/* The lake URL, or a failure saying what to set. */}}
{{- define "txlake.lakeUrl" -}}
{{- $lake := .Values.lake }}
{{- $set := 0 }}
{{- if $lake.url }}{{ $set = add1 $set }}{{ end }}
{{- if $lake.s3.bucket }}{{ $set = add1 $set }}{{ end }}
{{- if $lake.persistence.enabled }}{{ $set = add1 $set }}{{ end }}
{{- if gt $set 1 }}
{{- fail "lake: set only one of lake.url, lake.s3.bucket and lake.persistence.enabled" }}
{{- end }}
{{- if $lake.url }}
{{- $lake.url }}
{{- else if $lake.s3.bucket }}
{{- $prefix := trimAll "/" $lake.s3.prefix }}
{{- if $prefix }}{{ printf "s3://%s/%s" $lake.s3.bucket $prefix }}{{ else }}{{ printf "s3://%s" $lake.s3.bucket }}{{ end }}
{{- else if $lake.persistence.enabled }}
{{- "file:///data/lake" }}
{{- else }}
{{- fail "lake: say where the Delta tables live: lake.s3.bucket (S3 or an S3-compatible store, for production), lake.persistence.enabled=true (a volume, single-node try-out) or lake.url" }}
{{- end }}
{{- end }}

{{/*
A value as TOML: strings (JSON escapes are valid TOML basic-string escapes), booleans,
integers (YAML numbers arrive as float64), floats, arrays and inline tables.
*/}}
{{- define "txlake.toml.value" -}}
{{- $v := . }}
{{- if kindIs "string" $v }}
{{- toJson $v }}
{{- else if kindIs "bool" $v }}
{{- ternary "true" "false" $v }}
{{- else if or (kindIs "float64" $v) (kindIs "float32" $v) }}
{{- if eq (float64 (int64 $v)) (float64 $v) }}{{ int64 $v }}{{ else }}{{ $v }}{{ end }}
{{- else if or (kindIs "int" $v) (kindIs "int64" $v) (kindIs "int32" $v) (kindIs "uint64" $v) }}
{{- $v }}
{{- else if kindIs "slice" $v }}
{{- $items := list }}
{{- range $v }}{{ $items = append $items (include "txlake.toml.value" .) }}{{ end }}
{{- printf "[%s]" (join ", " $items) }}
{{- else if kindIs "map" $v }}
{{- $items := list }}
{{- range $k, $item := $v }}
{{- if not (kindIs "invalid" $item) }}
{{- $items = append $items (printf "%s = %s" (include "txlake.toml.key" $k) (include "txlake.toml.value" $item)) }}
{{- end }}
{{- end }}
{{- if $items }}{{ printf "{ %s }" (join ", " $items) }}{{ else }}{}{{ end }}
{{- else }}
{{- fail (printf "cannot write %v (%s) into txlake.toml" $v (kindOf $v)) }}
{{- end }}
{{- end }}

{{- define "txlake.toml.key" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" . }}{{ . }}{{ else }}{{ toJson . }}{{ end }}
{{- end }}

{{/* `key = value` lines of a map, in key order, skipping nulls. */}}
{{- define "txlake.toml.pairs" -}}
{{- range $k, $v := . }}
{{- if not (kindIs "invalid" $v) }}
{{ include "txlake.toml.key" $k }} = {{ include "txlake.toml.value" $v }}
{{- end }}
{{- end }}
{{- end }}

{{/* txlake.toml */}}
{{- define "txlake.config" -}}
{{- $lakeUrl := include "txlake.lakeUrl" . }}
{{- if not .Values.auth.keys }}
{{- fail "auth.keys: add at least one API key. In a pod txlake listens on 0.0.0.0:8080 and refuses to without keys; make one with `txlake keys create --name powerbi --role viewer` and set auth.keys[0] to its name, role and sha256 (or sha256: \"${VAR}\" with the hash in existingSecret)" }}
{{- end }}
# txlake.toml rendered by the {{ include "txlake.chart" . }} Helm chart (release {{ .Release.Name }}).
# ${VAR} references are read from the pod's environment (the Secret) when txlake starts.
{{- with .Values.config.connectorsDir }}
connectors_dir = {{ toJson . }}
{{- end }}

[lake]
url = {{ toJson $lakeUrl }}
{{- $options := dict }}
{{- if and (not .Values.lake.url) .Values.lake.s3.bucket }}
{{- with .Values.lake.s3.endpoint }}{{ $_ := set $options "aws_endpoint" . }}{{ end }}
{{- with .Values.lake.s3.region }}{{ $_ := set $options "aws_region" . }}{{ end }}
{{- if .Values.lake.s3.allowHttp }}{{ $_ := set $options "aws_allow_http" "true" }}{{ end }}
{{- end }}
{{- range $k, $v := .Values.lake.options }}{{ $_ := set $options $k (toString $v) }}{{ end }}
{{- if $options }}

[lake.options]
{{- include "txlake.toml.pairs" $options }}
{{- end }}
{{- with .Values.config.sync }}

[sync]
{{- include "txlake.toml.pairs" . }}
{{- end }}
{{- with .Values.config.metrics }}

[metrics]
{{- include "txlake.toml.pairs" . }}
{{- end }}

[server]
listen = "0.0.0.0:8080"
{{- include "txlake.toml.pairs" .Values.config.server }}
{{- range .Values.auth.keys }}

[[auth.keys]]
name = {{ toJson .name }}
role = {{ toJson .role }}
sha256 = {{ toJson .sha256 }}
{{- end }}
{{- range $name, $c := .Values.connections }}

[connections.{{ $name }}]
connector = {{ toJson $c.connector }}
{{- with $c.config }}
config = {{ include "txlake.toml.value" . }}
{{- end }}
{{- with $c.streams }}
streams = {{ include "txlake.toml.value" . }}
{{- end }}
{{- with $c.modes }}
modes = {{ include "txlake.toml.value" . }}
{{- end }}
{{- end }}
{{ end }}

{{/* Environment shared by the API and sync containers. */}}
{{- define "txlake.env" -}}
- name: TXLAKE_CONFIG
  value: /etc/txlake/txlake.toml
- name: TXLAKE_LOG_FORMAT
  value: {{ .Values.logFormat | quote }}
- name: TMPDIR
  value: /tmp
{{- with .Values.logLevel }}
- name: RUST_LOG
  value: {{ . | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "txlake.envFrom" -}}
{{- $secret := include "txlake.secretName" . }}
{{- if $secret }}
- secretRef:
    name: {{ $secret }}
{{- end }}
{{- with .Values.extraEnvFrom }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "txlake.volumeMounts" -}}
- name: config
  mountPath: /etc/txlake
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- if .Values.lake.persistence.enabled }}
- name: lake
  mountPath: /data
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "txlake.volumes" -}}
- name: config
  configMap:
    name: {{ include "txlake.fullname" . }}
- name: tmp
  emptyDir:
    {{- with .Values.tmpSizeLimit }}
    sizeLimit: {{ . }}
    {{- else }} {}
    {{- end }}
{{- if .Values.lake.persistence.enabled }}
- name: lake
  persistentVolumeClaim:
    claimName: {{ include "txlake.pvcName" . }}
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Pod annotations that roll the pods when their configuration changes. */}}
{{- define "txlake.checksums" -}}
checksum/config: {{ include "txlake.config" . | sha256sum }}
{{- if .Values.secret.create }}
checksum/secret: {{ toJson .Values.secret.data | sha256sum }}
{{- end }}
{{- end }}

{{/* Egress rules of the NetworkPolicies when egress is restricted. */}}
{{- define "txlake.networkPolicy.egress" -}}
{{- if .Values.networkPolicy.egress.restrict }}
egress:
  # DNS
  - to:
      - namespaceSelector: {}
        podSelector:
          matchLabels:
            k8s-app: kube-dns
    ports:
      - port: 53
        protocol: UDP
      - port: 53
        protocol: TCP
  {{- with .Values.networkPolicy.egress.to }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
{{- end }}

{{/* The CronJob of a connection: (dict "root" $ "name" $name). 52 characters at most. */}}
{{- define "txlake.syncJobName" -}}
{{- printf "%s-sync-%s" (include "txlake.fullname" .root) (.name | replace "_" "-") | trunc 52 | trimSuffix "-" }}
{{- end }}
