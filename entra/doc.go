// Package entra supplies Entra ID (Azure AD) bearer tokens to aispool's
// sender, the Azure way: a [Source] is a [sender.TokenSource] on an
// azidentity credential (managed identity, workload identity or the default
// credential chain), chosen in code with [Options] or from the environment
// variable APPLICATIONINSIGHTS_AUTHENTICATION_STRING as the Azure exporters
// read it ([FromEnvironment]).
//
// It is a package of its own so that programs that do not use Entra ID do
// not link the Azure SDK: neither the exporter nor the sender imports it.
// A program that exports with Entra ID passes a Source:
//
//	src, err := entra.NewSource(entra.Options{Credential: entra.ManagedIdentity})
//	exp, err := exporter.New(ctx, exporter.WithTokenSource(src))
//
// The sender caches each token until two minutes before it expires, and
// forgets it when the ingestion service answers 401; it then asks the
// Source for a fresh one with [Source.RefreshToken], which bypasses
// azidentity's own token cache. The records of a refused request stay in
// the spool and are sent again with the new token.
//
// The identity needs the role Monitoring Metrics Publisher on the
// Application Insights resource. The repository's docs/entra.md tells the
// setup.
package entra
