package charttest

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The custom resources the chart can render, with the fields of their
// schemas that it uses (Prometheus Operator monitoring.coreos.com/v1,
// cert-manager cert-manager.io/v1). Strict decoding into these catches a
// misspelt or misplaced field; a field the chart starts to use must be
// added here, from the CRD's schema.

// ServiceMonitor is monitoring.coreos.com/v1 ServiceMonitor.
type ServiceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ServiceMonitorSpec `json:"spec"`
}

// ServiceMonitorSpec is the part of the ServiceMonitor schema the chart uses.
type ServiceMonitorSpec struct {
	JobLabel          string                `json:"jobLabel,omitempty"`
	Selector          metav1.LabelSelector  `json:"selector"`
	NamespaceSelector NamespaceSelector     `json:"namespaceSelector,omitempty"`
	Endpoints         []ServiceMonitorEndpt `json:"endpoints"`
}

// NamespaceSelector is the ServiceMonitor's namespaceSelector.
type NamespaceSelector struct {
	Any        bool     `json:"any,omitempty"`
	MatchNames []string `json:"matchNames,omitempty"`
}

// ServiceMonitorEndpt is one of the ServiceMonitor's endpoints.
type ServiceMonitorEndpt struct {
	Port          string `json:"port,omitempty"`
	Path          string `json:"path,omitempty"`
	Scheme        string `json:"scheme,omitempty"`
	Interval      string `json:"interval,omitempty"`
	ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
}

// PrometheusRule is monitoring.coreos.com/v1 PrometheusRule.
type PrometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              PrometheusRuleSpec `json:"spec"`
}

// PrometheusRuleSpec holds the rule groups, as in a Prometheus rule file.
type PrometheusRuleSpec struct {
	Groups []RuleGroup `json:"groups"`
}

// RuleGroup is a group of rules.
type RuleGroup struct {
	Name     string `json:"name"`
	Interval string `json:"interval,omitempty"`
	Rules    []Rule `json:"rules"`
}

// Rule is an alerting or a recording rule.
type Rule struct {
	Alert       string            `json:"alert,omitempty"`
	Record      string            `json:"record,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Certificate is cert-manager.io/v1 Certificate.
type Certificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              CertificateSpec `json:"spec"`
}

// CertificateSpec is the part of the Certificate schema the chart uses.
type CertificateSpec struct {
	SecretName  string            `json:"secretName"`
	CommonName  string            `json:"commonName,omitempty"`
	DNSNames    []string          `json:"dnsNames,omitempty"`
	Duration    string            `json:"duration,omitempty"`
	RenewBefore string            `json:"renewBefore,omitempty"`
	PrivateKey  *CertificateKey   `json:"privateKey,omitempty"`
	IssuerRef   CertificateIssuer `json:"issuerRef"`
}

// CertificateKey is the Certificate's privateKey.
type CertificateKey struct {
	Algorithm      string `json:"algorithm,omitempty"`
	Size           int    `json:"size,omitempty"`
	RotationPolicy string `json:"rotationPolicy,omitempty"`
}

// CertificateIssuer is the Certificate's issuerRef.
type CertificateIssuer struct {
	Name  string `json:"name"`
	Kind  string `json:"kind,omitempty"`
	Group string `json:"group,omitempty"`
}
