module example.com/streem-receiver

go 1.19
