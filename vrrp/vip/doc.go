// Package vip installs and removes virtual IP addresses and VRRP virtual MAC
// interfaces by netlink (the address half of RFC 5798 section 6.4), with every
// VIP carrying a kernel address lifetime so that the kernel itself withdraws
// the VIPs of a daemon that died or froze (the "kernel fence").
//
// # Kernel fence timing (measured on Linux 6.18, see docs/kernel-fence.md)
//
// Lifetimes have one-second granularity (IFA_CACHEINFO carries whole
// seconds). An address installed or refreshed at time r with valid_lft L
// is removed by the kernel's address-lifetime worker (IPv4: devinet.c
// check_lifetime; IPv6: addrconf.c addrconf_verify) at r+L plus a small
// delay when nothing else touches addresses: measured +1 ms to +53 ms for
// L = 1 and 2 s, and up to +0.4 s for L = 3 s (the worker may round its
// wake-up up to a whole second when that costs under 250 ms), IPv4 and IPv6
// alike. The worker never runs more often than once a second after it was
// last kicked, and every address add or refresh in the namespace kicks it
// (the worker is per namespace on 6.18); so if some other address changes
// shortly before r+L, removal slips to that change + 1 s. Measured: L=2
// with an unrelated address added at 1.9 s → removed at 2.93 s. The worst
// case is therefore about r + L + 1.25 s (ExpiryLateness = 1.5 s adds a
// margin; TypicalExpiryLateness is the quiet-namespace figure), and removal
// can be up to 20 ms early (ExpiryEarliness, ADDRCONF_TIMER_FUZZ_MINUS).
// The comment on those constants says which fence uses which, and why.
//
// Consequences: to fence against a lease that ends at D, install with
// FenceLifetime(D - now), never with a rounded-up value; and a refresher
// must refresh well inside L (L ≥ 2 × refresh interval is the comfortable
// choice).
package vip
