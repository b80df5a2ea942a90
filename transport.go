package webhook

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// newTransport returns the default transport: one pool of keep-alive
// connections shared by every delivery, sized to the workers, with the
// dial guard unless private networks are allowed. It ignores proxy
// environment variables, which would bypass the guard.
func newTransport(allowPrivate bool, workers int) *http.Transport {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = guardControl
	}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           workers * 4,
		MaxIdleConnsPerHost:    workers,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		DisableCompression:     true,
	}
}

// guardControl runs after name resolution, on the address actually dialled,
// so DNS answers that point at internal addresses are refused too. Its
// error names the option that allows the address, never the URL.
func guardControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable address %q", ErrAddressNotAllowed, address)
	}
	if !publicAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s is not a public address; set Config.AllowPrivateNetworks to reach it", ErrAddressNotAllowed, ap.Addr())
	}
	return nil
}

// nonPublic lists IPv4 and IPv6 ranges that are not reachable public
// unicast addresses, beyond what netip's predicates cover. An address in
// one of them is refused unless [Config.AllowPrivateNetworks] is set; there
// is no finer option that re-allows one range.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this" network
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated), ::, ::1
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated (SIIT)
	netip.MustParsePrefix("64:ff9b:1::/48"),  // NAT64 local-use: the IPv4 sits at an offset only the operator knows
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("2001::/32"),       // Teredo: tunnels to an obfuscated IPv4 client address
	netip.MustParsePrefix("2001:2::/48"),     // benchmarking
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("3fff::/20"),       // documentation
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
}

// embedsIPv4 lists IPv6 prefixes whose addresses carry an IPv4 address, at
// a fixed offset, that decides where the packet really goes; such an
// address is public only if its IPv4 address is.
var embedsIPv4 = []struct {
	prefix netip.Prefix
	offset int // byte offset of the IPv4 address
}{
	{netip.MustParsePrefix("64:ff9b::/96"), 12}, // NAT64 well-known prefix
	{netip.MustParsePrefix("2002::/16"), 2},     // 6to4
}

// publicAddr reports whether a may be dialled without AllowPrivateNetworks.
func publicAddr(a netip.Addr) bool {
	// A zone does not change where the packet goes, but netip.Prefix
	// never contains a zoned address.
	a = a.Unmap().WithZone("")
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() ||
		a.IsMulticast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	if a.Is6() {
		b := a.As16()
		for _, e := range embedsIPv4 {
			if e.prefix.Contains(a) {
				v4 := netip.AddrFrom4([4]byte(b[e.offset : e.offset+4]))
				return publicAddr(v4)
			}
		}
	}
	return true
}
