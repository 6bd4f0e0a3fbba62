module feature_report

go 1.19

require ebpfaccel v0.0.0

// The binding's sources: here the source tree; for an installed library,
// $(datadir)/gocode/src/ebpfaccel (see tests/test_installed.sh).
replace ebpfaccel => ../../bindings/go
