package entra_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aispool/aispool/entra"
)

func TestParseAuthenticationString(t *testing.T) {
	for _, tc := range []struct {
		in       string
		want     entra.Options
		wantErrs []string // substrings of the error; nil: no error
	}{
		{in: "Authorization=AAD", want: entra.Options{Credential: entra.ManagedIdentity}},
		{in: "authorization=aad;", want: entra.Options{Credential: entra.ManagedIdentity}},
		{in: " Authorization = AAD ; ClientId = 11111111-2222-3333-4444-555555555555 ",
			want: entra.Options{Credential: entra.ManagedIdentity, ClientID: "11111111-2222-3333-4444-555555555555"}},
		{in: "CLIENTID=abc;AUTHORIZATION=Aad", want: entra.Options{Credential: entra.ManagedIdentity, ClientID: "abc"}},
		{in: "", wantErrs: []string{"Authorization=AAD is missing"}},
		{in: "ClientId=abc", wantErrs: []string{"Authorization=AAD is missing"}},
		{in: "Authorization=ikey", wantErrs: []string{`Authorization="ikey": only AAD`}},
		{in: "Authorization=AAD;ClientId=", wantErrs: []string{"ClientId is empty"}},
		{in: "Authorization=AAD;Authorization=AAD", wantErrs: []string{"Authorization given twice"}},
		{in: "Authorization=AAD;TenantId=x;garbage", wantErrs: []string{`unknown key "TenantId"`, `"garbage" is not key=value`}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := entra.ParseAuthenticationString(tc.in)
			if tc.wantErrs == nil {
				if err != nil || got.Credential != tc.want.Credential || got.ClientID != tc.want.ClientID {
					t.Errorf("= %+v, %v; want %+v", got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, entra.ErrInvalidConfig) {
				t.Fatalf("error %v, want ErrInvalidConfig", err)
			}
			for _, w := range tc.wantErrs {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func FuzzParseAuthenticationString(f *testing.F) {
	for _, s := range []string{"Authorization=AAD", "Authorization=AAD;ClientId=x", ";;=;", "ClientId==", "Authorization=aad;clientid=a=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := entra.ParseAuthenticationString(s)
		if err != nil {
			if !errors.Is(err, entra.ErrInvalidConfig) {
				t.Fatalf("error %v does not wrap ErrInvalidConfig", err)
			}
			return
		}
		if o.Credential != entra.ManagedIdentity || strings.Contains(o.ClientID, ";") {
			t.Fatalf("%q parsed as %+v", s, o)
		}
	})
}

func TestOptionsFromEnvironment(t *testing.T) {
	env := map[string]string{}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if src, err := entra.FromEnvironment(lookup); src != nil || err != nil {
		t.Errorf("unset: %v, %v; want nil, nil", src, err)
	}
	env[entra.EnvAuthenticationString] = "  "
	if _, ok, err := entra.OptionsFromEnvironment(lookup); ok || err != nil {
		t.Errorf("blank: ok %v, %v", ok, err)
	}
	env[entra.EnvAuthenticationString] = "Authorization=AAD;ClientId=abc"
	o, ok, err := entra.OptionsFromEnvironment(lookup)
	if !ok || err != nil || o.ClientID != "abc" || o.String() != "managed-identity (client id abc)" {
		t.Errorf("= %+v, %v, %v", o, ok, err)
	}
	env[entra.EnvAuthenticationString] = "Authorization=Basic"
	if _, err := entra.FromEnvironment(lookup); !errors.Is(err, entra.ErrInvalidConfig) || !strings.Contains(err.Error(), entra.EnvAuthenticationString) {
		t.Errorf("bad value: %v; want ErrInvalidConfig naming the variable", err)
	}
	if _, ok, err := entra.OptionsFromEnvironment(nil); ok || err != nil {
		t.Errorf("nil lookup: %v, %v", ok, err)
	}
}

func TestParseKind(t *testing.T) {
	for in, want := range map[string]entra.Kind{
		"default": entra.Default, "Managed-Identity": entra.ManagedIdentity, "workload_identity": entra.WorkloadIdentity,
	} {
		if got, err := entra.ParseKind(in); got != want || err != nil {
			t.Errorf("ParseKind(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := entra.ParseKind("cli"); !errors.Is(err, entra.ErrInvalidConfig) || !strings.Contains(err.Error(), "managed-identity") {
		t.Errorf("ParseKind(cli): %v", err)
	}
}

func TestNewCredential(t *testing.T) {
	for _, k := range []string{"AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_ID", "AZURE_TENANT_ID"} {
		t.Setenv(k, "")
	}
	for _, tc := range []struct {
		o       entra.Options
		wantErr string // "" for none
	}{
		{entra.Options{}, ""},
		{entra.Options{Credential: entra.ManagedIdentity}, ""},
		{entra.Options{Credential: entra.ManagedIdentity, ClientID: "abc"}, ""},
		{entra.Options{Credential: entra.Default, ClientID: "abc"}, "AZURE_CLIENT_ID"},
		{entra.Options{Credential: entra.WorkloadIdentity}, "workload-identity credential"},
		{entra.Options{Credential: "cli"}, `credential "cli"`},
	} {
		_, err := entra.NewSource(tc.o)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%+v: %v", tc.o, err)
		case tc.wantErr != "" && (!errors.Is(err, entra.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%+v: error %v, want ErrInvalidConfig with %q", tc.o, err, tc.wantErr)
		}
	}
	// Workload identity with the variables the AKS webhook sets.
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", t.TempDir()+"/token")
	t.Setenv("AZURE_TENANT_ID", "00000000-0000-0000-0000-00000000000a")
	t.Setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-00000000000b")
	src, err := entra.NewSource(entra.Options{Credential: entra.WorkloadIdentity})
	if err != nil || src.String() != "workload-identity" {
		t.Errorf("workload identity from the environment: %v, %v", src, err)
	}
}
