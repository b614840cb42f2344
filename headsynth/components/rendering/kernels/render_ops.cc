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
// CompositeRasterizedHead: the pixel stage after tfg's rasteriser op.
//
// For every pixel the rasteriser covered (z-buffer != 1), interpolates the
// per-vertex attributes (shaded rgb in [0, 1], depth in mm) with the pixel's
// barycentric coordinates and writes the colour, quantised to uint8, over the
// background; other pixels keep the background. One pass over the image
// replaces about a dozen full-image TensorFlow ops (where, gathers, scatter,
// round, cast), which together cost more than the rasterisation itself.
//
// Built by scripts/build_rasterizer.py against the installed TensorFlow.

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/util/work_sharder.h"

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

REGISTER_OP("CompositeRasterizedHead")
    .Input("barycentrics: float32")  // [1, H, W, 3] as tfg's op returns them
    .Input("triangle_ids: int32")    // [1, H, W] rows of `triangles`
    .Input("z_buffer: float32")      // [1, H, W] 1 where nothing was drawn
    .Input("triangles: int32")       // [T, 3] vertex ids
    .Input("attributes: float32")    // [V, 4] rgb in [0, 1] and depth
    .Input("background: uint8")      // [H, W, 3]
    .Output("image: uint8")          // [H, W, 3]
    .Output("depth: float32")        // [H, W] 0 off the head
    .Output("mask: bool")            // [H, W]
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle background, z_buffer, pixels;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(5), 3, &background));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 3, &z_buffer));
      TF_RETURN_IF_ERROR(c->Subshape(z_buffer, 1, &pixels));
      c->set_output(0, background);
      c->set_output(1, pixels);
      c->set_output(2, pixels);
      return Status();
    });

class CompositeRasterizedHeadOp : public OpKernel {
 public:
  explicit CompositeRasterizedHeadOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& barycentrics = context->input(0);
    const Tensor& triangle_ids = context->input(1);
    const Tensor& z_buffer = context->input(2);
    const Tensor& triangles = context->input(3);
    const Tensor& attributes = context->input(4);
    const Tensor& background = context->input(5);

    OP_REQUIRES(context, background.dims() == 3 && background.dim_size(2) == 3,
                InvalidArgument("background must be [H, W, 3], got ", background.shape().DebugString()));
    const int64_t height = background.dim_size(0);
    const int64_t width = background.dim_size(1);
    const TensorShape layer({1, height, width});
    OP_REQUIRES(context, z_buffer.shape() == layer && triangle_ids.shape() == layer,
                InvalidArgument("z_buffer and triangle_ids must be ", layer.DebugString(), ", got ",
                                z_buffer.shape().DebugString(), " and ",
                                triangle_ids.shape().DebugString()));
    OP_REQUIRES(context, barycentrics.shape() == TensorShape({1, height, width, 3}),
                InvalidArgument("barycentrics must be [1, H, W, 3], got ",
                                barycentrics.shape().DebugString()));
    OP_REQUIRES(context, attributes.dims() == 2 && attributes.dim_size(1) == 4,
                InvalidArgument("attributes must be [V, 4], got ", attributes.shape().DebugString()));
    const int64_t num_vertices = attributes.dim_size(0);
    OP_REQUIRES_OK(context, CheckTriangles(triangles, num_vertices));
    const int64_t num_triangles = triangles.dim_size(0);
    const int32_t* corners = triangles.flat<int32_t>().data();

    Tensor* image = nullptr;
    Tensor* depth = nullptr;
    Tensor* mask = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, background.shape(), &image));
    OP_REQUIRES_OK(context, context->allocate_output(1, TensorShape({height, width}), &depth));
    OP_REQUIRES_OK(context, context->allocate_output(2, TensorShape({height, width}), &mask));

    const float* bary = barycentrics.flat<float>().data();
    const int32_t* ids = triangle_ids.flat<int32_t>().data();
    const float* z = z_buffer.flat<float>().data();
    const float* values = attributes.flat<float>().data();
    const uint8_t* under = background.flat<uint8_t>().data();
    uint8_t* out = image->flat<uint8_t>().data();
    float* out_depth = depth->flat<float>().data();
    bool* out_mask = mask->flat<bool>().data();

    for (int64_t p = 0; p < height * width; ++p) {
      const bool covered = z[p] != 1.0f;
      out_mask[p] = covered;
      if (!covered) {
        out[3 * p] = under[3 * p];
        out[3 * p + 1] = under[3 * p + 1];
        out[3 * p + 2] = under[3 * p + 2];
        out_depth[p] = 0.0f;
        continue;
      }
      const int32_t id = ids[p];
      OP_REQUIRES(context, id >= 0 && id < num_triangles,
                  InvalidArgument("triangle id ", id, " is outside [0, ", num_triangles, ")"));
      const float* a = values + 4 * corners[3 * id];
      const float* b = values + 4 * corners[3 * id + 1];
      const float* c = values + 4 * corners[3 * id + 2];
      const float w0 = bary[3 * p], w1 = bary[3 * p + 1], w2 = bary[3 * p + 2];
      for (int channel = 0; channel < 3; ++channel) {
        const float value = w0 * a[channel] + w1 * b[channel] + w2 * c[channel];
        // nearbyint rounds half to even, as tf.round does.
        const float level = std::nearbyint(value * 255.0f);
        out[3 * p + channel] = static_cast<uint8_t>(level < 0.0f ? 0.0f : (level > 255.0f ? 255.0f : level));
      }
      out_depth[p] = w0 * a[3] + w1 * b[3] + w2 * c[3];
    }
  }
};

REGISTER_KERNEL_BUILDER(Name("CompositeRasterizedHead").Device(tensorflow::DEVICE_CPU),
                        CompositeRasterizedHeadOp);

}  // namespace headsynth
