{{/* The pod template of the Deployment (persistence off) and of the StatefulSet (on): one text,
so the two shapes cannot drift apart. Written at its place in those files (under `  template:`). */}}
{{- define "gatehouse.podTemplate" }}
    metadata:
      labels:
        {{- include "gatehouse.selectorLabels" . | nindent 8 }}
        {{- with .Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        # A changed configuration or policy rolls the pods.
        checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "gatehouse.serviceAccountName" . }}
      # Gatehouse talks to no Kubernetes API.
      automountServiceAccountToken: false
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      # preStop sleep, then SIGTERM: Gatehouse stops accepting, /readyz answers 503, in-flight
      # requests get shutdownGraceMs, then audit and tracing flush. The kill comes after all that.
      terminationGracePeriodSeconds: {{ add (int .Values.preStopSleepSeconds) (div (add (int .Values.shutdownGraceMs) 999) 1000) (int .Values.terminationExtraSeconds) }}
      securityContext:
        {{- include "gatehouse.podSecurityContext" . | nindent 8 }}
      affinity:
        podAntiAffinity:
          {{- if eq .Values.podAntiAffinity "hard" }}
          requiredDuringSchedulingIgnoredDuringExecution:
            - topologyKey: kubernetes.io/hostname
              labelSelector:
                matchLabels:
                  {{- include "gatehouse.selectorLabels" . | nindent 18 }}
          {{- else }}
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                topologyKey: kubernetes.io/hostname
                labelSelector:
                  matchLabels:
                    {{- include "gatehouse.selectorLabels" . | nindent 20 }}
          {{- end }}
      {{- if .Values.topologySpread.enabled }}
      topologySpreadConstraints:
        - maxSkew: {{ .Values.topologySpread.maxSkew }}
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "gatehouse.selectorLabels" . | nindent 14 }}
      {{- end }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: gatehouse
          image: {{ include "gatehouse.image" . | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          args: ["start", "--config", "/etc/gatehouse/config/gatehouse.yaml"]
          ports:
            - name: https
              containerPort: {{ .Values.ports.https }}
              protocol: TCP
            {{- if .Values.httpRedirect.enabled }}
            - name: http
              containerPort: {{ .Values.ports.http }}
              protocol: TCP
            {{- end }}
            - name: ops
              containerPort: {{ .Values.ports.ops }}
              protocol: TCP
          env:
            - name: NODE_ENV
              value: production
            - name: GATEHOUSE_PKI_KEY
              valueFrom:
                secretKeyRef:
                  name: {{ include "gatehouse.secretsName" . }}
                  key: {{ .Values.secrets.pkiKeyKey }}
            - name: GATEHOUSE_KEY_ENCRYPTION_SECRET
              valueFrom:
                secretKeyRef:
                  name: {{ include "gatehouse.secretsName" . }}
                  key: {{ .Values.secrets.keyEncryptionSecretKey }}
            {{- with .Values.store.passwordSecret }}{{ if .name }}
            - name: GATEHOUSE_DB_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ .name }}
                  key: {{ .key }}
            {{- end }}{{ end }}
            {{- if .Values.redis.host }}{{ with .Values.redis.passwordSecret }}{{ if .name }}
            - name: GATEHOUSE_REDIS_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ .name }}
                  key: {{ .key }}
            {{- end }}{{ end }}{{ end }}
            {{- if .Values.nats.host }}{{ with .Values.nats.passwordSecret }}{{ if .name }}
            - name: GATEHOUSE_NATS_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ .name }}
                  key: {{ .key }}
            {{- end }}{{ end }}{{ end }}
            {{- if .Values.extraCaCerts.secretName }}
            - name: NODE_EXTRA_CA_CERTS
              value: /etc/gatehouse/extra-ca/{{ .Values.extraCaCerts.key }}
            {{- end }}
            {{- with .Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          startupProbe:
            httpGet:
              path: /healthz
              port: ops
            periodSeconds: {{ .Values.probes.startup.periodSeconds }}
            timeoutSeconds: {{ .Values.probes.startup.timeoutSeconds }}
            failureThreshold: {{ .Values.probes.startup.failureThreshold }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: ops
            periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
            timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
            failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
          readinessProbe:
            httpGet:
              path: /readyz
              port: ops
            periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
            timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
            failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
          lifecycle:
            preStop:
              # The kubelet sleeps (no shell in the image): endpoints drop the pod first.
              sleep:
                seconds: {{ .Values.preStopSleepSeconds }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          securityContext:
            {{- toYaml .Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: config
              mountPath: /etc/gatehouse/config
              readOnly: true
            - name: policies
              mountPath: /etc/gatehouse/policies
              readOnly: true
            - name: tls
              mountPath: /etc/gatehouse/tls
              readOnly: true
            - name: audit-signing-key
              mountPath: /etc/gatehouse/audit
              readOnly: true
            {{- if .Values.store.caSecret.name }}
            - name: db-ca
              mountPath: /etc/gatehouse/db-ca
              readOnly: true
            {{- end }}
            {{- if .Values.extraCaCerts.secretName }}
            - name: extra-ca
              mountPath: /etc/gatehouse/extra-ca
              readOnly: true
            {{- end }}
            - name: data
              mountPath: /data
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: config
          configMap:
            name: {{ include "gatehouse.fullname" . }}
        - name: policies
          {{- if .Values.policies }}
          configMap:
            name: {{ include "gatehouse.fullname" . }}-policies
          {{- else }}
          emptyDir:
            sizeLimit: 1Mi
          {{- end }}
        - name: tls
          secret:
            secretName: {{ include "gatehouse.tlsSecretName" . }}
            defaultMode: 0400
        - name: audit-signing-key
          secret:
            secretName: {{ include "gatehouse.secretsName" . }}
            defaultMode: 0400
            # Only the signing key: the other keys reach the process as environment variables.
            items:
              - key: {{ .Values.secrets.auditSigningKeyKey }}
                path: audit-signing-key.jwk
        {{- if .Values.store.caSecret.name }}
        - name: db-ca
          secret:
            secretName: {{ .Values.store.caSecret.name }}
            items:
              - key: {{ .Values.store.caSecret.key }}
                path: {{ .Values.store.caSecret.key }}
        {{- end }}
        {{- if .Values.extraCaCerts.secretName }}
        - name: extra-ca
          secret:
            secretName: {{ .Values.extraCaCerts.secretName }}
            items:
              - key: {{ .Values.extraCaCerts.key }}
                path: {{ .Values.extraCaCerts.key }}
        {{- end }}
        {{- if not .Values.persistence.enabled }}
        - name: data
          emptyDir:
            sizeLimit: {{ .Values.dataVolume.sizeLimit }}
        {{- else if .Values.persistence.existingClaim }}
        - name: data
          persistentVolumeClaim:
            claimName: {{ .Values.persistence.existingClaim }}
        {{- end }}
        {{- /* Otherwise "data" is the StatefulSet's volumeClaimTemplate: a claim per pod. */}}
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
{{- end -}}

{{/* podSecurityContext, with persistence: fsGroupChangePolicy OnRootMismatch. The default, Always,
has the kubelet chown and chmod g+rw the whole volume at every mount; on a volume that outlives
the pod, that makes the 0700 data directory and audit spool Gatehouse created group-writable, and
production then refuses the spool at the next start. OnRootMismatch changes the volume once,
when its root does not match yet (first mount), and never again. */}}
{{- define "gatehouse.podSecurityContext" -}}
{{- $ctx := deepCopy .Values.podSecurityContext -}}
{{- if .Values.persistence.enabled -}}
{{- $_ := set $ctx "fsGroupChangePolicy" "OnRootMismatch" -}}
{{- end -}}
{{- toYaml $ctx -}}
{{- end -}}
