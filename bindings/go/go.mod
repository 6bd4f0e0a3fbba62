module ebpfaccel

go 1.19
