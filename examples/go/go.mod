module examples

go 1.19

require ebpfaccel v0.0.0

// The binding as 'make' stages it for the library of this build tree; for an
// installed library: $(datadir)/gocode/src/ebpfaccel (see
// tests/bindings/installed.sh).
replace ebpfaccel => ../../bindings/go/stage
