// Package e2e runs real vipd processes in the namespace lab: it builds the
// binaries once, writes per-node configurations, and starts, signals and
// queries vipd on lab hosts. The end-to-end tests live in this package and
// in internal/interop.
package e2e
