package webhook_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

// TestDialGuardEmbeddedIPv4 covers the IPv6 forms that carry an IPv4
// address, or tunnel to one, in every spelling a URL or a DNS answer may
// use.
func TestDialGuardEmbeddedIPv4(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		addr   string
		public bool
	}{
		// IPv4-compatible, ::/96 (deprecated; refused whatever it embeds).
		{"CompatibleDotted", "::127.0.0.1", false},
		{"CompatibleHex", "::7f00:1", false},
		{"CompatibleFull", "0:0:0:0:0:0:7f00:1", false},
		{"CompatibleZeroPadded", "0000:0000:0000:0000:0000:0000:7F00:0001", false},
		{"CompatiblePrivate", "::10.0.0.1", false},
		{"CompatibleMetadata", "::169.254.169.254", false},
		{"CompatiblePublic", "::93.184.216.34", false},
		{"CompatibleZoned", "::7f00:1%lo", false},
		// IPv4-translated (SIIT), ::ffff:0:0:0/96.
		{"TranslatedDotted", "::ffff:0:127.0.0.1", false},
		{"TranslatedHex", "::ffff:0:7f00:1", false},
		// Teredo, 2001::/32: server IPv4, then the client IPv4 obfuscated.
		{"TeredoClientLoopback", "2001:0:4136:e378:8000:63bf:80ff:fffe", false},
		{"TeredoClientLoopbackUpper", "2001:0000:4136:E378:8000:63BF:80FF:FFFE", false},
		{"TeredoShort", "2001::80ff:fffe", false},
		{"TeredoClientPrivate", "2001:0:0:0:0:0:f5ff:fffe", false},
		{"TeredoRFCExample", "2001:0:4136:e378:8000:63bf:3fff:fdd2", false},
		{"TeredoZoned", "2001::80ff:fffe%eth0", false},
		// NAT64 local-use prefix 64:ff9b:1::/48 (RFC 8215), with the IPv4 at
		// each RFC 6052 offset.
		{"NAT64Local48", "64:ff9b:1:7f00:0:100::", false},
		{"NAT64Local48Upper", "64:FF9B:1:7F00:0:100::", false},
		{"NAT64Local48PublicSuffix", "64:ff9b:1:7f00:0:100:5db8:d822", false},
		{"NAT64Local48Private", "64:ff9b:1:a00:0:100::", false},
		{"NAT64Local56", "64:ff9b:1:7f:0:1::", false},
		{"NAT64Local64", "64:ff9b:1:0:7f:0:100:0", false},
		{"NAT64Local96", "64:ff9b:1::7f00:1", false},
		{"NAT64Local96Dotted", "64:ff9b:1::127.0.0.1", false},
		{"NAT64LocalPublic", "64:ff9b:1::93.184.216.34", false},
		// NAT64 well-known prefix 64:ff9b::/96: decided by the IPv4.
		{"NAT64WellKnownLoopback", "64:ff9b::7f00:1", false},
		{"NAT64WellKnownDotted", "64:ff9b::127.0.0.1", false},
		{"NAT64WellKnownZoned", "64:ff9b::7f00:1%eth0", false},
		{"NAT64WellKnownPublic", "64:ff9b::5db8:d822", true},
		// IPv4-mapped and 6to4, in other spellings.
		{"MappedZoned", "::ffff:127.0.0.1%eth0", false},
		{"SixToFourZoned", "2002:7f00:1::%eth0", false},
		{"SixToFourPublic", "2002:5db8:d822::1", true},
		// Other special ranges.
		{"SiteLocal", "fec0::1", false},
		{"Benchmarking", "2001:2::1", false},
		{"Documentation3fff", "3fff::1", false},
		{"ZonedLinkLocal", "fe80::1%eth0", false},
		// Public unicast, beside the refused ranges.
		{"PublicGoogleDNS", "2001:4860:4860::8888", true},
		{"PublicIPv6", "2606:2800:220:1::1", true},
		{"PublicIPv4", "93.184.216.34", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, c.public, webhook.PublicAddr(netip.MustParseAddr(c.addr)), c.addr)
		})
	}
}
