module github.com/talon-mfc/talon

go 1.26.8
