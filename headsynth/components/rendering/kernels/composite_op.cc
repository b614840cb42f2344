// CompositeRasterizedHead: the pixel stage of headsynth's renderer, after
// tensorflow-graphics' rasteriser op.
//
// For every pixel the rasteriser covered (z-buffer != 1), interpolates the
// per-vertex attributes (shaded rgb in [0, 1], depth in mm) with the pixel's
// barycentric coordinates and writes the colour, quantised to uint8, over the
// background; other pixels keep the background. One pass over the image
// replaces about a dozen full-image TensorFlow ops (where, gathers, scatter,
// round, cast), which together cost more than the rasterisation itself.
//
// Built by scripts/build_rasterizer.py against the installed TensorFlow.

#include <cmath>
#include <cstdint>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

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
    OP_REQUIRES(context, triangles.dims() == 2 && triangles.dim_size(1) == 3,
                InvalidArgument("triangles must be [T, 3], got ", triangles.shape().DebugString()));
    OP_REQUIRES(context, attributes.dims() == 2 && attributes.dim_size(1) == 4,
                InvalidArgument("attributes must be [V, 4], got ", attributes.shape().DebugString()));

    const int64_t num_triangles = triangles.dim_size(0);
    const int64_t num_vertices = attributes.dim_size(0);
    const int32_t* corners = triangles.flat<int32_t>().data();
    for (int64_t i = 0; i < 3 * num_triangles; ++i) {
      OP_REQUIRES(context, corners[i] >= 0 && corners[i] < num_vertices,
                  InvalidArgument("triangle vertex id ", corners[i], " is outside [0, ", num_vertices, ")"));
    }

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
