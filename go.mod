module jpegrestore

go 1.26

require (
	github.com/google/go-cmp v0.7.0
	github.com/yalue/onnxruntime_go v1.27.0
)
