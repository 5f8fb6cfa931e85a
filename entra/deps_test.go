package entra_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The packages a program links without Entra ID must not depend on the
// Azure SDK: only package entra (and the aispool command, whose product
// it is) import it.
func TestProductPackagesDoNotLinkAzure(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the import graph: %v", err)
	}
	pkgs := []string{"exporter", "exporter/envelope", "sender", "spool", "ingest", "metrics", "internal/daemon"}
	forbidden := []string{"github.com/Azure/", "github.com/AzureAD/", "github.com/aispool/aispool/entra"}
	for _, p := range append(pkgs, "cmd/aispool", "entra") {
		out, err := exec.Command(goBin, "list", "-deps", "github.com/aispool/aispool/"+p).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", p, err)
		}
		deps := string(out)
		var bad []string
		for _, d := range strings.Fields(deps) {
			for _, f := range forbidden {
				if strings.HasPrefix(d, f) && d != "github.com/aispool/aispool/"+p {
					bad = append(bad, d)
				}
			}
		}
		switch p {
		case "cmd/aispool", "entra":
			if !strings.Contains(deps, "github.com/Azure/azure-sdk-for-go/sdk/azidentity\n") {
				t.Errorf("%s does not link azidentity", p)
			}
		default:
			if len(bad) > 0 {
				t.Errorf("%s depends on %v", p, bad)
			}
		}
	}
}
