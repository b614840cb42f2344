// headsynth's two renderer ops, around tensorflow-graphics' rasteriser op.
//
// VertexNormalsAndFrontFaces: the geometry stage before rasterisation.
//
// Area-weighted unit vertex normals, as tfg's `mesh.normals.vertex_normals`
// computes them (counter-clockwise face normals, unnormalised, summed per
// vertex, then l2-normalised), and which triangles face the camera at the
// origin. In TensorFlow ops this took three [B, T, 3] gathers, a cross
// product, a scatter-add and a normalisation: a third of the whole render on
// a 10k-vertex head; here it is one pass over the triangles per image.
//
// RasterizeAndComposite: rasterisation and the pixel stage, per image.
//
// Draws each image's front-facing triangles with tensorflow-graphics'
// rasteriser (`RasterizeTrianglesImpl`, the function tfg's CPU op wraps,
// compiled from the sources tfg ships into this library). Then, for every
// pixel it covered (z-buffer != 1), interpolates the per-vertex attributes
// (shaded rgb in [0, 1], depth in mm) with the pixel's barycentric coordinates
// and writes the colour, quantised to uint8, over the background; other pixels
// keep the background. Per image, tfg's op allocated and cleared three
// full-image buffers, TensorFlow selected the front faces (where + gather),
// and the pixel stage read the buffers back from memory after the other
// images' rasterisation had evicted them; here the buffers are reused and
// still in cache. The pictures are the same, byte for byte.
//
// Built by scripts/build_rasterizer.py against the installed TensorFlow.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/util/work_sharder.h"
#include "rasterize_triangles_impl.h"  // tensorflow-graphics' rasteriser, compiled in beside this file

namespace headsynth {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Status;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::errors::InvalidArgument;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

// OK if `triangles` is [T, 3] and every vertex id in it is in [0, num_vertices).
Status CheckTriangles(const Tensor& triangles, int64_t num_vertices) {
  if (triangles.dims() != 2 || triangles.dim_size(1) != 3) {
    return InvalidArgument("triangles must be [T, 3], got ", triangles.shape().DebugString());
  }
  const int32_t* corners = triangles.flat<int32_t>().data();
  for (int64_t i = 0; i < triangles.NumElements(); ++i) {
    if (corners[i] < 0 || corners[i] >= num_vertices) {
      return InvalidArgument("triangle vertex id ", corners[i], " is outside [0, ", num_vertices, ")");
    }
  }
  return Status();
}

REGISTER_OP("VertexNormalsAndFrontFaces")
    .Input("vertices: float32")   // [B, V, 3] camera space, camera at the origin
    .Input("triangles: int32")    // [T, 3] vertex ids, counter-clockwise
    .Attr("outward_sign: float = 1.0")  // +1 if counter-clockwise normals point out of the mesh
    .Output("normals: float32")   // [B, V, 3] unit
    .Output("front_facing: bool") // [B, T]
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle vertices, triangles;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &vertices));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &triangles));
      c->set_output(0, vertices);
      c->set_output(1, c->Matrix(c->Dim(vertices, 0), c->Dim(triangles, 0)));
      return Status();
    });

class VertexNormalsAndFrontFacesOp : public OpKernel {
 public:
  explicit VertexNormalsAndFrontFacesOp(OpKernelConstruction* context) : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("outward_sign", &outward_sign_));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& vertices = context->input(0);
    const Tensor& triangles = context->input(1);
    OP_REQUIRES(context, vertices.dims() == 3 && vertices.dim_size(2) == 3,
                InvalidArgument("vertices must be [B, V, 3], got ", vertices.shape().DebugString()));
    const int64_t batch = vertices.dim_size(0);
    const int64_t num_vertices = vertices.dim_size(1);
    OP_REQUIRES_OK(context, CheckTriangles(triangles, num_vertices));
    const int64_t num_triangles = triangles.dim_size(0);
    const int32_t* corners = triangles.flat<int32_t>().data();
    Tensor* normals = nullptr;
    Tensor* front_facing = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, vertices.shape(), &normals));
    OP_REQUIRES_OK(context, context->allocate_output(1, TensorShape({batch, num_triangles}), &front_facing));
    const float* in = vertices.flat<float>().data();
    float* out = normals->flat<float>().data();
    bool* facing = front_facing->flat<bool>().data();
    const float sign = outward_sign_;

    // Images are independent, so sharding them over threads cannot change a byte.
    auto images = [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        const float* v = in + b * num_vertices * 3;
        float* n = out + b * num_vertices * 3;
        bool* front = facing + b * num_triangles;
        bool behind = false;  // a head reaching behind the camera keeps all its triangles
        for (int64_t i = 0; i < num_vertices; ++i) behind = behind || v[3 * i + 2] >= 0.0f;
        std::fill(n, n + num_vertices * 3, 0.0f);
        for (int64_t t = 0; t < num_triangles; ++t) {
          const float* p0 = v + 3 * corners[3 * t];
          const float* p1 = v + 3 * corners[3 * t + 1];
          const float* p2 = v + 3 * corners[3 * t + 2];
          const float ax = p1[0] - p0[0], ay = p1[1] - p0[1], az = p1[2] - p0[2];
          const float bx = p2[0] - p0[0], by = p2[1] - p0[1], bz = p2[2] - p0[2];
          const float fx = ay * bz - az * by, fy = az * bx - ax * bz, fz = ax * by - ay * bx;
          // Facing the camera at the origin: the outward normal points back towards it.
          front[t] = behind || sign * (fx * p0[0] + fy * p0[1] + fz * p0[2]) < 0.0f;
          for (int k = 0; k < 3; ++k) {
            float* m = n + 3 * corners[3 * t + k];
            m[0] += fx;
            m[1] += fy;
            m[2] += fz;
          }
        }
        for (int64_t i = 0; i < num_vertices; ++i) {
          float* m = n + 3 * i;
          // As tf.math.l2_normalize: x * rsqrt(max(|x|^2, 1e-12)).
          const float scale = 1.0f / std::sqrt(std::max(m[0] * m[0] + m[1] * m[1] + m[2] * m[2], 1e-12f));
          m[0] *= scale;
          m[1] *= scale;
          m[2] *= scale;
        }
      }
    };
    const auto& workers = *context->device()->tensorflow_cpu_worker_threads();
    tensorflow::Shard(workers.num_threads, workers.workers, batch, 40 * (num_vertices + num_triangles), images);
  }

 private:
  float outward_sign_;
};

REGISTER_KERNEL_BUILDER(Name("VertexNormalsAndFrontFaces").Device(tensorflow::DEVICE_CPU),
                        VertexNormalsAndFrontFacesOp);

// A colour in [0, 1] as a uint8 level: value * 255 rounded half to even (as tf.round does), clamped.
// Clamping first cannot change the result (0 and 255 are integers). Adding and
// subtracting 1.5 * 2^23 rounds a float below 2^22 to the nearest integer, ties
// to even, in the default rounding mode, exactly as std::nearbyint does; without
// -msse4.1 (the ops carry no -march) std::nearbyint is a libm call per channel,
// which took more time than the rest of this op.
inline uint8_t ToLevel(float value) {
  float scaled = value * 255.0f;
  scaled = scaled < 0.0f ? 0.0f : (scaled > 255.0f ? 255.0f : scaled);
  return static_cast<uint8_t>((scaled + 12582912.0f) - 12582912.0f);
}

REGISTER_OP("RasterizeAndComposite")
    .Input("clip: float32")          // [B, V, 4] clip coordinates, y flipped (row 0 is the top)
    .Input("triangles: int32")       // [T, 3] vertex ids
    .Input("draw: bool")             // [B, T] the triangles to draw (front faces), in order
    .Input("attributes: float32")    // [B, V, 4] rgb in [0, 1] and depth
    .Input("background: uint8")      // [B, H, W, 3]
    .Output("image: uint8")          // [B, H, W, 3]
    .Output("depth: float32")        // [B, H, W] 0 off the head
    .Output("mask: bool")            // [B, H, W]
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle background, pixels;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(4), 4, &background));
      TF_RETURN_IF_ERROR(c->Subshape(background, 0, 3, &pixels));
      c->set_output(0, background);
      c->set_output(1, pixels);
      c->set_output(2, pixels);
      return Status();
    });

// One image's buffers of tfg's rasteriser, kept per thread: reused from image
// to image they stay in cache, and the next stage reads them while they are.
struct RasterBuffers {
  std::vector<int32_t> drawn;  // [T', 3] the triangles drawn, in their order in `triangles`
  std::vector<int32_t> ids;    // [H, W] rows of `drawn`
  std::vector<float> z;        // [H, W] 1 where nothing was drawn
  std::vector<float> bary;     // [H, W, 3]
};

// Draws one image's wanted triangles (`wanted`: [T]) of `corners` ([T, 3]) with tfg's rasteriser into `raster`.
void RasterizeImage(const float* clip, const int32_t* corners, const bool* wanted, int64_t num_triangles,
                    int64_t width, int64_t height, RasterBuffers* raster) {
  raster->drawn.clear();
  for (int64_t t = 0; t < num_triangles; ++t) {
    if (wanted[t]) raster->drawn.insert(raster->drawn.end(), corners + 3 * t, corners + 3 * t + 3);
  }
  // As tfg's op clears them: z to 1 (the far plane); ids and barycentrics are read only where z < 1.
  const int64_t pixels = width * height;
  raster->z.assign(pixels, 1.0f);
  raster->ids.resize(pixels);
  raster->bary.resize(3 * pixels);
  RasterizeTrianglesImpl(clip, raster->drawn.data(), static_cast<int32_t>(raster->drawn.size() / 3), width, height,
                         1, FaceCullingMode::kNone, raster->ids.data(), raster->z.data(), raster->bary.data());
}

// Interpolates the covered pixels' attributes and writes them over the background.
void CompositeImage(const RasterBuffers& raster, const float* values, const uint8_t* under,
                    int64_t num_pixels, uint8_t* out, float* out_depth, bool* out_mask) {
  const int32_t* corners = raster.drawn.data();
  for (int64_t p = 0; p < num_pixels; ++p) {
    const bool covered = raster.z[p] != 1.0f;
    out_mask[p] = covered;
    if (!covered) {
      out[3 * p] = under[3 * p];
      out[3 * p + 1] = under[3 * p + 1];
      out[3 * p + 2] = under[3 * p + 2];
      out_depth[p] = 0.0f;
      continue;
    }
    const int32_t id = raster.ids[p];  // the rasteriser writes ids of drawn triangles only
    const float* a = values + 4 * corners[3 * id];
    const float* b = values + 4 * corners[3 * id + 1];
    const float* c = values + 4 * corners[3 * id + 2];
    const float w0 = raster.bary[3 * p], w1 = raster.bary[3 * p + 1], w2 = raster.bary[3 * p + 2];
    for (int channel = 0; channel < 3; ++channel) {
      out[3 * p + channel] = ToLevel(w0 * a[channel] + w1 * b[channel] + w2 * c[channel]);
    }
    out_depth[p] = w0 * a[3] + w1 * b[3] + w2 * c[3];
  }
}

class RasterizeAndCompositeOp : public OpKernel {
 public:
  explicit RasterizeAndCompositeOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& clip = context->input(0);
    const Tensor& triangles = context->input(1);
    const Tensor& draw = context->input(2);
    const Tensor& attributes = context->input(3);
    const Tensor& background = context->input(4);
    OP_REQUIRES(context, clip.dims() == 3 && clip.dim_size(2) == 4,
                InvalidArgument("clip must be [B, V, 4], got ", clip.shape().DebugString()));
    const int64_t batch = clip.dim_size(0);
    const int64_t num_vertices = clip.dim_size(1);
    OP_REQUIRES(context, attributes.shape() == clip.shape(),
                InvalidArgument("attributes must be [B, V, 4] as clip ", clip.shape().DebugString(),
                                ", got ", attributes.shape().DebugString()));
    OP_REQUIRES(context,
                background.dims() == 4 && background.dim_size(0) == batch && background.dim_size(3) == 3,
                InvalidArgument("background must be [B, H, W, 3] with B = ", batch, ", got ",
                                background.shape().DebugString()));
    OP_REQUIRES_OK(context, CheckTriangles(triangles, num_vertices));
    const int64_t num_triangles = triangles.dim_size(0);
    OP_REQUIRES(context, draw.shape() == TensorShape({batch, num_triangles}),
                InvalidArgument("draw must be [B, T] = [", batch, ", ", num_triangles, "], got ",
                                draw.shape().DebugString()));
    const int64_t height = background.dim_size(1);
    const int64_t width = background.dim_size(2);

    Tensor* image = nullptr;
    Tensor* depth = nullptr;
    Tensor* mask = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, background.shape(), &image));
    OP_REQUIRES_OK(context, context->allocate_output(1, TensorShape({batch, height, width}), &depth));
    OP_REQUIRES_OK(context, context->allocate_output(2, TensorShape({batch, height, width}), &mask));

    const float* in_clip = clip.flat<float>().data();
    const int32_t* corners = triangles.flat<int32_t>().data();
    const bool* in_draw = draw.flat<bool>().data();
    const float* values = attributes.flat<float>().data();
    const uint8_t* under = background.flat<uint8_t>().data();
    uint8_t* out = image->flat<uint8_t>().data();
    float* out_depth = depth->flat<float>().data();
    bool* out_mask = mask->flat<bool>().data();
    const int64_t pixels = height * width;

    // Images are independent, so sharding them over threads cannot change a byte.
    auto images = [&](int64_t begin, int64_t end) {
      thread_local RasterBuffers raster;
      for (int64_t b = begin; b < end; ++b) {
        RasterizeImage(in_clip + b * num_vertices * 4, corners, in_draw + b * num_triangles, num_triangles,
                       width, height, &raster);
        CompositeImage(raster, values + b * num_vertices * 4, under + b * pixels * 3, pixels,
                       out + b * pixels * 3, out_depth + b * pixels, out_mask + b * pixels);
      }
    };
    const auto& workers = *context->device()->tensorflow_cpu_worker_threads();
    // A 224 x 224 head takes about 1.5 ms: worth a thread per image.
    tensorflow::Shard(workers.num_threads, workers.workers, batch, 1000000, images);
  }
};

REGISTER_KERNEL_BUILDER(Name("RasterizeAndComposite").Device(tensorflow::DEVICE_CPU), RasterizeAndCompositeOp);

}  // namespace headsynth
