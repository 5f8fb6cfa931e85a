package entra

import (
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Kind names an azidentity credential.
type Kind string

// The credentials a Source can be made of.
const (
	// Default is azidentity's DefaultAzureCredential: the environment's
	// service principal (AZURE_CLIENT_ID with AZURE_CLIENT_SECRET or
	// AZURE_CLIENT_CERTIFICATE_PATH), workload identity, managed identity,
	// then the developer tools' logins (Azure CLI, Azure Developer CLI),
	// the first that works.
	Default Kind = "default"
	// ManagedIdentity is the managed identity of the Azure resource the
	// program runs on (VM, App Service, Functions, Container Apps, AKS
	// node), system-assigned, or user-assigned with Options.ClientID.
	ManagedIdentity Kind = "managed-identity"
	// WorkloadIdentity is Kubernetes workload identity: a federated
	// service account token (AZURE_FEDERATED_TOKEN_FILE, AZURE_TENANT_ID,
	// AZURE_CLIENT_ID, as the AKS webhook sets them) exchanged for an
	// Entra ID token.
	WorkloadIdentity Kind = "workload-identity"
)

// Kinds lists the credential kinds, for help texts.
var Kinds = []Kind{Default, ManagedIdentity, WorkloadIdentity}

// ParseKind returns the Kind named s (as the constants are spelt; case and
// underscores do not matter).
func ParseKind(s string) (Kind, error) {
	k := Kind(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "_", "-"))
	for _, known := range Kinds {
		if k == known {
			return k, nil
		}
	}
	return "", fmt.Errorf("%w: credential %q: want default, managed-identity or workload-identity", ErrInvalidConfig, s)
}

// Options chooses and configures the credential of a Source.
type Options struct {
	// Credential is the kind of credential; "" means Default.
	Credential Kind
	// ClientID selects a user-assigned managed identity by its client ID
	// (with ManagedIdentity); with WorkloadIdentity it overrides
	// AZURE_CLIENT_ID. Empty means the system-assigned identity, or the
	// environment's. Default takes none: its chain reads AZURE_CLIENT_ID.
	ClientID string
	// ClientOptions configure the credential's HTTP pipeline: proxy
	// transport, retries, the authority host of a sovereign cloud.
	ClientOptions azcore.ClientOptions
}

// String describes the credential, for logs: "managed-identity (client id
// …)" or "default".
func (o Options) String() string {
	k := o.Credential
	if k == "" {
		k = Default
	}
	if o.ClientID != "" {
		return fmt.Sprintf("%s (client id %s)", k, o.ClientID)
	}
	if k == ManagedIdentity {
		return string(k) + " (system-assigned)"
	}
	return string(k)
}

// NewCredential returns the azidentity credential that o describes. It
// touches no network: a credential that cannot work here fails at its first
// token. Errors wrap ErrInvalidConfig.
func NewCredential(o Options) (azcore.TokenCredential, error) {
	kind := o.Credential
	if kind == "" {
		kind = Default
	}
	var (
		cred azcore.TokenCredential
		err  error
	)
	switch kind {
	case Default:
		if o.ClientID != "" {
			return nil, fmt.Errorf("%w: client id %s: the default credential chain takes its client id from AZURE_CLIENT_ID; choose managed-identity or workload-identity to give one", ErrInvalidConfig, o.ClientID)
		}
		cred, err = azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: o.ClientOptions})
	case ManagedIdentity:
		mo := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: o.ClientOptions}
		if o.ClientID != "" {
			mo.ID = azidentity.ClientID(o.ClientID)
		}
		cred, err = azidentity.NewManagedIdentityCredential(mo)
	case WorkloadIdentity:
		cred, err = azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: o.ClientOptions, ClientID: o.ClientID,
		})
	default:
		_, err = ParseKind(string(kind))
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s credential: %w", ErrInvalidConfig, kind, err)
	}
	return cred, nil
}
