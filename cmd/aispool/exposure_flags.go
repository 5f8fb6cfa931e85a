package main

import (
	"github.com/spf13/pflag"

	"github.com/aispool/aispool/internal/daemon"
)

// registerExposureFlags adds the flags that say who may use the local
// ingestion endpoint (docs/security.md).
func registerExposureFlags(fs *pflag.FlagSet, e *daemon.Exposure) {
	fs.StringVar(&e.PathSecretFile, "path-secret-file", "",
		"file holding a secret path prefix (16+ characters of A-Z a-z 0-9 - . _ ~): only /<secret>/v2.1/track is served; "+
			"SDKs use IngestionEndpoint=https://<host>:<port>/<secret>/")
	fs.StringVar(&e.BearerTokenFile, "bearer-token-file", "",
		"file holding a token that clients may send as 'Authorization: Bearer <token>' instead")
	fs.StringVar(&e.TLSClientCA, "tls-client-ca", "",
		"PEM file of CA certificates: a client certificate they issued authenticates a request (mutual TLS; needs --tls-cert)")
	fs.StringSliceVar(&e.AllowNetworks, "allow-network", nil,
		"client networks allowed to post (CIDR prefixes or addresses, comma-separated or repeated); others get 403 (default: any)")
}
