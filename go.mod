module github.com/hooklet/webhook

go 1.26.8

require github.com/google/go-jsonnet v0.22.0

require (
	github.com/kr/pretty v0.1.0 // indirect
	golang.org/x/crypto v0.45.0 // indirect
	golang.org/x/sys v0.45.0 // indirect
	gopkg.in/check.v1 v1.0.0-20180628173108-788fd7840127 // indirect
	sigs.k8s.io/yaml v1.4.0 // indirect
)
