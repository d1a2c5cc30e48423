// Package enhance turns one input file into one output and one record, without Beam: probe the
// markers, pick the route by quality factor, check whether a complete output with the same tag
// already exists (resume), decode exactly as libjpeg does, restore through the route's model,
// encode PNG or JPEG with EXIF and ICC carried over and the tag recorded, and measure the
// no-reference quality before and after. The Beam DoFns in transforms/ call these steps.
package enhance
