// Package ipvs is vipd's IPVS (Linux Virtual Server) data plane: it programs
// keepalived's virtual_server semantics into the kernel's ip_vs tables the
// way keepalived's ipvswrapper.c does; there is no RFC, keepalived and the
// kernel's ip_vs_ctl.c are the reference.
package ipvs
