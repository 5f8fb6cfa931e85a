{{/* Names. */}}
{{- define "aispool.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "aispool.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "aispool.agentName" -}}{{ include "aispool.fullname" . | trunc 57 | trimSuffix "-" }}-agent{{- end -}}
{{- define "aispool.gatewayName" -}}{{ include "aispool.fullname" . | trunc 55 | trimSuffix "-" }}-gateway{{- end -}}

{{- define "aispool.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "aispool.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one tier: include "aispool.selectorLabels" (list . "agent"). */}}
{{- define "aispool.selectorLabels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ include "aispool.name" $ }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "aispool.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "aispool.connectionStringSecret" -}}
{{- .Values.connectionString.secretName | default (printf "%s-connection-string" (include "aispool.fullname" .)) -}}
{{- end -}}
{{- define "aispool.tlsSecret" -}}
{{- .Values.intake.tls.secretName | default (printf "%s-tls" (include "aispool.fullname" .)) -}}
{{- end -}}
{{- define "aispool.pathSecret" -}}
{{- .Values.intake.pathSecret.secretName | default (printf "%s-path-secret" (include "aispool.fullname" .)) -}}
{{- end -}}

{{/* The DNS names the intake certificate must hold: both tiers' Services. */}}
{{- define "aispool.dnsNames" -}}
{{- $ns := .Release.Namespace -}}
{{- $names := list -}}
{{- range $svc := list (include "aispool.agentName" .) (include "aispool.gatewayName" .) -}}
{{- $names = append $names $svc -}}
{{- $names = append $names (printf "%s.%s" $svc $ns) -}}
{{- $names = append $names (printf "%s.%s.svc" $svc $ns) -}}
{{- $names = append $names (printf "%s.%s.svc.%s" $svc $ns $.Values.intake.tls.clusterDomain) -}}
{{- end -}}
{{- concat $names .Values.intake.tls.extraDNSNames | toJson -}}
{{- end -}}

{{/*
--memory-limit from a Kubernetes quantity: 256Mi -> 256MiB, plain bytes as they are.
include "aispool.memoryLimit" (list $tier)
*/}}
{{- define "aispool.memoryLimit" -}}
{{- $tier := index . 0 -}}
{{- if $tier.memoryLimit -}}
{{- $tier.memoryLimit -}}
{{- else -}}
{{- $q := toString (dig "limits" "memory" "" $tier.resources) -}}
{{- if regexMatch "^[0-9]+$" $q -}}
{{- $q -}}
{{- else if regexMatch "^[0-9]+(Ki|Mi|Gi|Ti)$" $q -}}
{{- printf "%sB" $q -}}
{{- else if $q -}}
{{- fail (printf "resources.limits.memory %q: use Ki, Mi, Gi or Ti (or set memoryLimit), so that --memory-limit can follow it" $q) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The container's arguments, common to both tiers: include "aispool.args" (list . $tier)
*/}}
{{- define "aispool.args" -}}
{{- $ := index . 0 -}}
{{- $tier := index . 1 -}}
- run
- --spool-dir=/spool/aispool
- --listen={{ $.Values.intake.listenHost }}:{{ $.Values.intake.port }}
- --admin-listen=0.0.0.0:{{ $.Values.admin.port }}
{{- if $.Values.intake.tls.enabled }}
- --tls-cert=/run/aispool/tls.crt
- --tls-key=/run/aispool/tls.key
{{- end }}
{{- if $.Values.intake.pathSecret.enabled }}
- --path-secret-file=/run/aispool/path-secret
{{- end }}
{{- with $.Values.intake.allowNetworks }}
- --allow-network={{ join "," . }}
{{- end }}
- --max-spool-bytes={{ $tier.spool.maxBytes | int64 }}
- --overflow={{ $tier.overflow }}
- --max-age={{ $tier.maxAge }}
- --shutdown-timeout={{ $tier.shutdownTimeoutSeconds | int }}s
{{- with include "aispool.memoryLimit" (list $tier) }}
- --memory-limit={{ . }}
{{- end }}
- --log-format={{ $.Values.logFormat }}
- --log-level={{ $.Values.logLevel }}
{{- with $tier.extraArgs }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
terminationGracePeriodSeconds must leave the preStop sleep and the graceful shutdown their time.
*/}}
{{- define "aispool.checkGrace" -}}
{{- $name := index . 0 -}}
{{- $tier := index . 1 -}}
{{- $need := add ($tier.preStopSleepSeconds | int) ($tier.shutdownTimeoutSeconds | int) 5 -}}
{{- if lt ($tier.terminationGracePeriodSeconds | int) ($need | int) -}}
{{- fail (printf "%s.terminationGracePeriodSeconds (%d) must be at least preStopSleepSeconds + shutdownTimeoutSeconds + 5 = %d, or the kubelet kills aispool before its graceful shutdown ends" $name ($tier.terminationGracePeriodSeconds | int) ($need | int)) -}}
{{- end -}}
{{- end -}}

{{/*
The init container: spool directory owned by the daemon's user, mode 0700, under a parent that
others cannot write; the TLS key and the path secret copied into memory, mode 0400.
*/}}
{{- define "aispool.initContainer" -}}
{{- $uid := .Values.podSecurityContext.runAsUser | int -}}
{{- $gid := .Values.podSecurityContext.runAsGroup | int -}}
- name: prepare
  image: {{ .Values.initImage.repository }}:{{ .Values.initImage.tag }}
  imagePullPolicy: {{ .Values.initImage.pullPolicy }}
  command:
    - sh
    - -ec
    - |
      chmod go-w /spool
      mkdir -p /spool/aispool
      chown {{ $uid }}:{{ $gid }} /spool/aispool
      chmod 0700 /spool/aispool
      {{- if .Values.intake.tls.enabled }}
      cp /secrets/tls/tls.crt /secrets/tls/tls.key /run/aispool/
      {{- end }}
      {{- if .Values.intake.pathSecret.enabled }}
      cp /secrets/path/{{ .Values.intake.pathSecret.secretKey }} /run/aispool/path-secret
      {{- end }}
      {{- if or .Values.intake.tls.enabled .Values.intake.pathSecret.enabled }}
      chown {{ $uid }}:{{ $gid }} /run/aispool/*
      chmod 0400 /run/aispool/*
      {{- end }}
  securityContext:
    runAsUser: 0
    runAsGroup: 0
    runAsNonRoot: false
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
    capabilities:
      drop: [ALL]
      add: [CHOWN, FOWNER, DAC_OVERRIDE]
  resources:
    requests: {cpu: 10m, memory: 16Mi}
    limits: {memory: 32Mi}
  volumeMounts:
    - {name: spool, mountPath: /spool}
    - {name: run, mountPath: /run/aispool}
    {{- if .Values.intake.tls.enabled }}
    - {name: tls, mountPath: /secrets/tls, readOnly: true}
    {{- end }}
    {{- if .Values.intake.pathSecret.enabled }}
    - {name: path-secret, mountPath: /secrets/path, readOnly: true}
    {{- end }}
{{- end -}}

{{/* The aispool container: include "aispool.container" (list . $tier "agent") */}}
{{- define "aispool.container" -}}
{{- $ := index . 0 -}}
{{- $tier := index . 1 -}}
{{- $component := index . 2 -}}
- name: aispool
  image: {{ include "aispool.image" $ }}
  imagePullPolicy: {{ $.Values.image.pullPolicy }}
  args:
    {{- include "aispool.args" (list $ $tier) | nindent 4 }}
  env:
    - name: APPLICATIONINSIGHTS_CONNECTION_STRING
      valueFrom:
        secretKeyRef:
          name: {{ (and (eq $component "agent") $tier.connectionStringSecretName) | default (include "aispool.connectionStringSecret" $) }}
          key: {{ $.Values.connectionString.secretKey }}
    {{- if and (eq $component "agent") $tier.trustGeneratedCA }}
    - name: SSL_CERT_FILE
      value: /etc/aispool/ca/ca.crt
    {{- end }}
    {{- with $tier.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  ports:
    - name: ingest
      containerPort: {{ $.Values.intake.port }}
      protocol: TCP
      {{- if and (eq $component "agent") $tier.hostPort.enabled }}
      hostPort: {{ $tier.hostPort.port }}
      {{- end }}
    - name: admin
      containerPort: {{ $.Values.admin.port }}
      protocol: TCP
  startupProbe:
    # Opening a large spool, or salvaging a damaged segment, can take a while.
    httpGet: {path: /healthz, port: admin}
    periodSeconds: 2
    failureThreshold: 60
  livenessProbe:
    httpGet: {path: /healthz, port: admin}
    periodSeconds: 10
    failureThreshold: 3
  readinessProbe:
    # Ready: the spool is open and can take records; it does not depend on Azure being reachable.
    httpGet: {path: /readyz, port: admin}
    periodSeconds: 5
    failureThreshold: 2
  {{- if gt ($tier.preStopSleepSeconds | int) 0 }}
  lifecycle:
    # Let the Service stop sending new connections before SIGTERM (the image has no shell to sleep).
    preStop:
      sleep:
        seconds: {{ $tier.preStopSleepSeconds | int }}
  {{- end }}
  resources:
    {{- toYaml $tier.resources | nindent 4 }}
  securityContext:
    {{- toYaml $.Values.securityContext | nindent 4 }}
  volumeMounts:
    - {name: spool, mountPath: /spool}
    - {name: run, mountPath: /run/aispool, readOnly: true}
    {{- if and (eq $component "agent") $tier.trustGeneratedCA }}
    - {name: ca, mountPath: /etc/aispool/ca, readOnly: true}
    {{- end }}
{{- end -}}

{{/* Volumes of both tiers but the spool. */}}
{{- define "aispool.volumes" -}}
{{- $ := index . 0 -}}
{{- $component := index . 1 -}}
- name: run
  emptyDir: {medium: Memory, sizeLimit: 1Mi}
{{- if $.Values.intake.tls.enabled }}
- name: tls
  secret: {secretName: {{ include "aispool.tlsSecret" $ }}, defaultMode: 0400}
{{- end }}
{{- if $.Values.intake.pathSecret.enabled }}
- name: path-secret
  secret: {secretName: {{ include "aispool.pathSecret" $ }}, defaultMode: 0400}
{{- end }}
{{- if and (eq $component "agent") $.Values.agent.trustGeneratedCA }}
- name: ca
  configMap: {name: {{ include "aispool.fullname" $ }}-ca}
{{- end }}
{{- end -}}
