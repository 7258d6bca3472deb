// Package control is vipd's local control API: the status model and an HTTP
// server and client over a root-only unix socket, used by vipctl.
package control
