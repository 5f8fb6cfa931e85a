package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/aispool/aispool/entra"
	"github.com/aispool/aispool/internal/daemon"
)

// entraFlags choose the Entra ID credential of run, drain and validate
// (docs/entra.md).
type entraFlags struct {
	credential string
	clientID   string
}

func (e *entraFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&e.credential, "entra-credential", "",
		"Entra ID credential for the ingestion service: default (the Azure SDK's chain), managed-identity or workload-identity; giving it turns Entra ID on (default: managed-identity when $"+entra.EnvAuthenticationString+" is set, else default when the connection string says Authorization=AAD)")
	fs.StringVar(&e.clientID, "entra-client-id", "",
		"client id of a user-assigned managed identity, or of the workload identity's application (default: ClientId of $"+entra.EnvAuthenticationString+", or $AZURE_CLIENT_ID)")
}

// tokenSource returns the token source that the flags, the environment and
// cfg's connection string ask for, or nil when none asks for Entra ID.
// Errors wrap daemon.ErrInvalidConfig and name the flag or variable.
func (e *entraFlags) tokenSource(cfg daemon.Config) (*entra.Source, error) {
	o, fromEnv, err := entra.OptionsFromEnvironment(cfg.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", daemon.ErrInvalidConfig, err)
	}
	aad := fromEnv || e.credential != "" || e.clientID != ""
	if !aad {
		// A missing or bad connection string is Validate's to report.
		cs, err := cfg.ResolveConnectionString()
		aad = err == nil && cs.AAD
	}
	if !aad {
		return nil, nil
	}
	if !fromEnv {
		o.Credential = entra.Default
	}
	if e.credential != "" {
		k, err := entra.ParseKind(e.credential)
		if err != nil {
			return nil, fmt.Errorf("%w: --entra-credential: %w", daemon.ErrInvalidConfig, err)
		}
		o.Credential = k
	}
	if e.clientID != "" {
		o.ClientID = e.clientID
	}
	src, err := entra.NewSource(o)
	if err != nil {
		return nil, fmt.Errorf("%w: --entra-credential %s: %w", daemon.ErrInvalidConfig, o.Credential, err)
	}
	return src, nil
}
