package envelope

import (
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
)

// resourceKey identifies a resource in the cache. The SDK hands every span
// of a TracerProvider the same *resource.Resource, and resources are
// immutable, so the pointer is a sound key.
type resourceKey = *resource.Resource

// maxCachedResources bounds the resource cache; past it the cache starts
// over.
const maxCachedResources = 64

// resourceTags returns the encoded resource tags of r, from the cache when
// possible.
func (c *Converter) resourceTags(r *resource.Resource) []byte {
	if b, ok := c.resources[r]; ok {
		return b
	}
	if len(c.resources) >= maxCachedResources {
		clear(c.resources)
	}
	b := c.encodeResourceTags(r)
	c.resources[r] = b
	return b
}

// k8sRoleKeys are the workload names used as the cloud role when
// service.name is the SDK's "unknown_service" default, in order.
var k8sRoleKeys = [...]attribute.Key{
	"k8s.deployment.name",
	"k8s.replicaset.name",
	"k8s.statefulset.name",
	"k8s.job.name",
	"k8s.cronjob.name",
	"k8s.daemonset.name",
}

// encodeResourceTags encodes the tags derived from the resource as the
// first members of the tags object (no braces):
//
//   - ai.internal.sdkVersion: go<version>:otel<version>:aispool<version>
//   - ai.cloud.role: service.namespace + "." + service.name, or
//     service.name; a Kubernetes workload name replaces an
//     "unknown_service…" name
//   - ai.cloud.roleInstance: service.instance.id, else host.name, else the
//     configured or OS host name
//   - ai.application.ver: service.version
//
// Other resource attributes are not copied into envelopes.
func (c *Converter) encodeResourceTags(r *resource.Resource) []byte {
	set := r.Set() // nil-safe
	role, instance := c.roleAndInstance(r)
	str := func(k attribute.Key) string {
		v, ok := set.Value(k)
		if !ok || v.Type() != attribute.STRING {
			return ""
		}
		return v.AsString()
	}
	b := appendTag(nil, "ai.internal.sdkVersion", c.sdkVersion)
	for _, tag := range [...]struct{ key, value string }{
		{"ai.cloud.role", role},
		{"ai.cloud.roleInstance", instance},
		{"ai.application.ver", str("service.version")},
	} {
		if tag.value != "" {
			b = append(b, ',')
			b = appendTag(b, tag.key, tag.value)
		}
	}
	return b
}

// roleAndInstance returns the values of ai.cloud.role and
// ai.cloud.roleInstance for a resource.
func (c *Converter) roleAndInstance(r *resource.Resource) (role, instance string) {
	set := r.Set() // nil-safe
	str := func(k attribute.Key) string {
		v, ok := set.Value(k)
		if !ok || v.Type() != attribute.STRING {
			return ""
		}
		return v.AsString()
	}
	name := str("service.name")
	if name == "" || strings.HasPrefix(name, "unknown_service") {
		for _, k := range k8sRoleKeys {
			if s := str(k); s != "" {
				name = s
				break
			}
		}
	}
	role = name
	if ns := str("service.namespace"); ns != "" && name != "" {
		role = ns + "." + name
	}
	instance = str("service.instance.id")
	if instance == "" {
		instance = str("host.name")
	}
	if instance == "" {
		instance = c.cfg.HostName
	}
	return role, instance
}

// appendTag appends "key":"value" with the tag's length limit.
func appendTag(dst []byte, key, value string) []byte {
	dst = append(dst, '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return appendQuoted(dst, value, tagLimit(key))
}
