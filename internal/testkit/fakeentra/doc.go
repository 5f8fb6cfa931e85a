// Package fakeentra fakes what Entra ID is to aispool, on loopback: a
// managed identity token endpoint that speaks the App Service protocol
// (the one azidentity's managed identity credential uses when
// IDENTITY_ENDPOINT and IDENTITY_HEADER are set), issuing tokens of a
// chosen lifetime, and the ingestion service's side of it: a gate in front
// of an ingestion endpoint that answers 401 to a request without a valid
// token (unknown, expired, revoked or for another audience), as the service
// does.
//
// It is for tests only: nothing outside _test.go files imports it.
package fakeentra
