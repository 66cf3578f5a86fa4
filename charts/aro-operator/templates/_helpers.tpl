{{/*
Labels of every object of a component (master or worker). No Helm-specific labels: the RP applies
the same objects without Helm (aro_operator::manifests) and both must be identical.
*/}}
{{- define "aro-operator.labels" -}}
app.kubernetes.io/name: aro-operator
app.kubernetes.io/part-of: aro
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* The operator container of a role; `.root` is the chart context, `.role` master or worker. */}}
{{- define "aro-operator.container" -}}
{{- $v := index .root.Values .role -}}
- name: aro-operator
  image: "{{ .root.Values.image.repository }}:{{ .root.Values.image.tag }}"
  imagePullPolicy: {{ .root.Values.image.pullPolicy }}
  command:
    - aro
  args:
    - operator
    - --role
    - {{ .role }}
  env:
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: POD_NAMESPACE
      valueFrom:
        fieldRef:
          fieldPath: metadata.namespace
    - name: RUST_LOG
      value: {{ .root.Values.logLevel | quote }}
  {{- if and (eq .role "master") $v.azureCredentialsSecret }}
  envFrom:
    - secretRef:
        name: {{ $v.azureCredentialsSecret | quote }}
  {{- end }}
  ports:
    - name: http
      containerPort: 8080
      protocol: TCP
  livenessProbe:
    httpGet:
      path: /healthz
      port: http
    initialDelaySeconds: 10
    periodSeconds: 10
  readinessProbe:
    httpGet:
      path: /readyz
      port: http
    periodSeconds: 5
  resources:
    {{- toYaml $v.resources | nindent 4 }}
  securityContext:
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
    runAsNonRoot: true
    capabilities:
      drop:
        - ALL
    seccompProfile:
      type: RuntimeDefault
{{- end }}
