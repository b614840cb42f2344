"""Self-contained HTML reports and TensorBoard summaries of evaluations and studies."""
