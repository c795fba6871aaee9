{{- define "gatehouse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gatehouse.fullname" -}}
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

{{- define "gatehouse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gatehouse.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "gatehouse.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "gatehouse.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gatehouse.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "gatehouse.opsServiceName" -}}
{{- printf "%s-ops" (include "gatehouse.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gatehouse.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Fails the render when a required value is missing (the schema checks types, this the combinations). */}}
{{- define "gatehouse.required" -}}
{{- $_ := required "publicUrl is required (the https:// origin every instance answers as)" .Values.publicUrl -}}
{{- /* An HPA scales out whatever replicaCount says (maxReplicas is always > 1 in practice). */ -}}
{{- $several := or (gt (int .Values.replicaCount) 1) (and .Values.autoscaling.enabled (gt (int .Values.autoscaling.maxReplicas) 1)) -}}
{{- if and $several (or (not .Values.redis.host) (not .Values.nats.host)) -}}
{{- fail "several replicas need redis.host (shared rate limits) and nats.host (shared events)" -}}
{{- end -}}
{{- /* config.store.url written as SQLite: each pod would keep its own users, sessions, keys and audit chain. */ -}}
{{- $storeUrl := "" -}}
{{- with .Values.config.store -}}{{- $storeUrl = toString (default "" .url) -}}{{- end -}}
{{- if and $several (hasPrefix "sqlite:" (lower (trim $storeUrl))) -}}
{{- fail "several replicas need the shared PostgreSQL store: config.store.url is SQLite, a separate database in each pod (users, sessions, keys and the audit chain would differ from pod to pod)" -}}
{{- end -}}
{{- with .Values.persistence -}}
{{- if and .existingClaim (not .enabled) -}}
{{- fail "persistence.existingClaim is set but persistence.enabled is false: the data directory would be an emptyDir, not the claim" -}}
{{- end -}}
{{- if and .enabled .existingClaim (or (gt (int $.Values.replicaCount) 1) $.Values.autoscaling.enabled) -}}
{{- fail "persistence.existingClaim is one volume for one instance (replicaCount 1, autoscaling off): two pods must never share an audit spool or a store; leave it empty for a claim per pod" -}}
{{- end -}}
{{- if and .enabled .existingClaim (or .storageClassName .annotations) -}}
{{- fail "persistence.existingClaim with persistence.storageClassName or persistence.annotations: they apply only to the claims the chart makes (one per pod), not to an existing claim; set them on that claim" -}}
{{- end -}}
{{- /* A fresh block volume's root belongs to root (0755): only fsGroup makes it writable by 65532. */ -}}
{{- if and .enabled (not $.Values.podSecurityContext.fsGroup) -}}
{{- fail "persistence.enabled without podSecurityContext.fsGroup: a new volume belongs to root, and Gatehouse (user 65532) could not create its data directory on it; keep fsGroup (65532)" -}}
{{- end -}}
{{- /* The StatefulSet controller labels each pod controller-revision-hash: <name>-<hash of up to
10 digits>, a label value of at most 63 characters: with a longer name no pod is ever created. */ -}}
{{- if and .enabled (gt (len (include "gatehouse.fullname" $)) 52) -}}
{{- fail (printf "persistence.enabled: the StatefulSet name %q is over 52 characters, and the pods' controller-revision-hash label (name-hash) would exceed 63, which the API refuses; shorten the release name or fullnameOverride" (include "gatehouse.fullname" $)) -}}
{{- end -}}
{{- if and .enabled (eq (toString (default "" $.Values.podSecurityContext.fsGroupChangePolicy)) "Always") -}}
{{- fail "persistence.enabled with podSecurityContext.fsGroupChangePolicy Always: the kubelet would make the volume group-writable at every mount, and Gatehouse in production refuses a group-writable audit spool; leave it unset (the chart sets OnRootMismatch)" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The StatefulSet's governing Service (headless): per-pod DNS names, no traffic through it. */}}
{{- define "gatehouse.headlessServiceName" -}}
{{- printf "%s-headless" (include "gatehouse.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* What runs the pods: a StatefulSet with persistence (a volume per pod), else a Deployment. */}}
{{- define "gatehouse.workloadKind" -}}
{{- if .Values.persistence.enabled -}}StatefulSet{{- else -}}Deployment{{- end -}}
{{- end -}}

{{/* The Secret holding the shared secrets: secrets.existingSecret, else <fullname>-secrets. */}}
{{- define "gatehouse.secretsName" -}}
{{- default (printf "%s-secrets" (include "gatehouse.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "gatehouse.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "gatehouse.fullname" .)) .Values.tls.secretName -}}
{{- end -}}

{{/* user[:${ENV}]@ for a URL, or nothing. */}}
{{- define "gatehouse.userinfo" -}}
{{- $user := index . 0 -}}{{- $secret := index . 1 -}}{{- $env := index . 2 -}}
{{- if $secret.name -}}
{{- printf "%s:${%s}@" $user $env -}}
{{- else if $user -}}
{{- printf "%s@" $user -}}
{{- end -}}
{{- end -}}

{{- define "gatehouse.storeUrl" -}}
{{- $s := .Values.store -}}
{{- $q := printf "sslmode=%s" $s.sslmode -}}
{{- if $s.caSecret.name -}}{{- $q = printf "%s&sslrootcert=/etc/gatehouse/db-ca/%s" $q $s.caSecret.key -}}{{- end -}}
{{- printf "postgres://%s%s:%v/%s?%s" (include "gatehouse.userinfo" (list $s.user $s.passwordSecret "GATEHOUSE_DB_PASSWORD")) $s.host (int $s.port) $s.database $q -}}
{{- end -}}

{{/* The gatehouse.yaml the chart writes, with .Values.config deep-merged over it. Seen DPoP
proofs go to the shared store: in memory, a proof could be replayed once per instance. */}}
{{- define "gatehouse.config" -}}
{{- $ops := include "gatehouse.opsServiceName" . -}}
{{- $c := dict
  "dataDir" "/data/gatehouse"
  "publicUrl" .Values.publicUrl
  "listeners" (dict
    "https" (dict "host" "0.0.0.0" "port" (int .Values.ports.https)
      "tls" (dict "cert" "/etc/gatehouse/tls/tls.crt" "key" "/etc/gatehouse/tls/tls.key"))
    "http" (dict "enabled" .Values.httpRedirect.enabled "host" "0.0.0.0" "port" (int .Values.ports.http))
    "ops" (dict "host" "0.0.0.0" "port" (int .Values.ports.ops)
      "allowedHosts" (list $ops (printf "%s.%s.svc" $ops .Release.Namespace) (printf "%s.%s.svc.cluster.local" $ops .Release.Namespace))))
  "limits" (dict "shutdownGraceMs" (int .Values.shutdownGraceMs))
  "store" (dict "url" (include "gatehouse.storeUrl" .) "poolMax" (int .Values.store.poolMax))
  "audit" (dict "signingKeyFile" "/etc/gatehouse/audit/audit-signing-key.jwk")
  "policy" (dict "dir" "/etc/gatehouse/policies")
  "authn" (dict "dpop" (dict "replayCache" "store"))
-}}
{{- if .Values.redis.host -}}
{{- $_ := set $c "ratelimit" (dict "url" (printf "rediss://%s%s:%v/%v" (include "gatehouse.userinfo" (list .Values.redis.username .Values.redis.passwordSecret "GATEHOUSE_REDIS_PASSWORD")) .Values.redis.host (int .Values.redis.port) (int .Values.redis.db))) -}}
{{- end -}}
{{- if .Values.nats.host -}}
{{- $_ := set $c "bus" (dict "url" (printf "tls://%s%s:%v" (include "gatehouse.userinfo" (list .Values.nats.user .Values.nats.passwordSecret "GATEHOUSE_NATS_PASSWORD")) .Values.nats.host (int .Values.nats.port))) -}}
{{- end -}}
{{- toYaml (mustMergeOverwrite $c (deepCopy .Values.config)) -}}
{{- end -}}
