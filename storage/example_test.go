package storage_test

import (
	"fmt"

	"jpegrestore/storage"
)

// ExampleRel mirrors a matched input object into an output bucket.
func ExampleRel() {
	pattern := "gs://in-bucket/photos/**/*.jpg"
	root := storage.Root(pattern)
	rel, err := storage.Rel(root, "gs://in-bucket/photos/2024/x.jpg")
	if err != nil {
		panic(err)
	}
	fmt.Println(root)
	fmt.Println(rel)
	fmt.Println(storage.Join("gs://out-bucket/restored/", rel))
	// Output:
	// gs://in-bucket/photos
	// 2024/x.jpg
	// gs://out-bucket/restored/2024/x.jpg
}

// ExampleRoot shows the folder each kind of pattern is listed from.
func ExampleRoot() {
	for _, p := range []string{"gs://b/in/**/*.jpg", "gs://b/*.jpg", "gs://b/in/", "/data/in/a?.jpg", "*.jpg"} {
		fmt.Println(storage.Root(p))
	}
	// Output:
	// gs://b/in
	// gs://b
	// gs://b/in
	// /data/in
	// .
}
