module sandfleet/supervisor

go 1.22
