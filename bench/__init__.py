"""mtl-transfer-bench: single-task vs multi-task vs transfer learning, measured."""
