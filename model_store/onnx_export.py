"""Training time only: a fitted scikit-learn forest as a compact ONNX graph, shipped inside its artifact.

The graph is one `ai.onnx.ml` TreeEnsemble (opset 5) written straight from the trees' arrays:
split nodes only (leaves are a separate list), modes and thresholds as packed tensors. Its ONNX
Runtime session takes about half the memory of skl2onnx's TreeEnsembleClassifier (opset 1: every
node listed, modes as strings), and it computes what scikit-learn computes: features rounded to
float32 (as the forest does), compared in float64 with the float64 thresholds, and the trees'
class-1 fractions averaged in float64, tree by tree. One difference: a missing value (NaN) always
takes the false branch, where scikit-learn may send it left; rows never hold one (features.py
rejects non-finite numbers), and tracking missing values per node made batches ~8 % slower.

The listener never imports this module (nor `onnx`): it only runs the bytes, after their hash check.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.pipeline import Pipeline

from model_store.encoding import RowEncoder, UnsupportedTransformer
from model_store.predictors import ONNX_ATTRIBUTE, ONNX_INPUT, ONNX_OUTPUT

FORESTS = (RandomForestClassifier, ExtraTreesClassifier)
ML_OPSET = 5  # TreeEnsemble: in ONNX Runtime since after 1.20 (onnxruntime#22333); older ones fall back
IR_VERSION = 10  # fixed, so that a newer onnx package does not change the bytes


def embed_onnx(pipeline: Pipeline) -> None:
    """Attach the ONNX graph to a pipeline's binary forest (as `onnx_model_`), so loading never converts.

    Other pipelines are left alone: the listener serves them through scikit-learn.
    """
    try:
        preprocess, model = pipeline.steps[0][1], pipeline.steps[-1][1]
        width = RowEncoder.from_transformer(preprocess).width
    except (UnsupportedTransformer, AttributeError, IndexError):
        return
    if type(model) in FORESTS and model.n_outputs_ == 1 and sorted(int(c) for c in model.classes_) == [0, 1]:
        setattr(model, ONNX_ATTRIBUTE, forest_onnx(model, width))


def forest_onnx(model: Any, width: int) -> bytes:
    """ONNX graph: float32 X (rows × width) → P(class 1) in float64 (rows × 1), as predict_proba has it."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    positive = [int(c) for c in model.classes_].index(1)
    nodes = _Nodes()
    for tree in model.estimators_:
        nodes.add_tree(tree.tree_, positive)
    ensemble = helper.make_node(
        "TreeEnsemble",
        ["X64"],
        [ONNX_OUTPUT],
        domain="ai.onnx.ml",
        aggregate_function=0,  # AVERAGE: sum over trees, then / n_trees, like the forest
        post_transform=0,
        n_targets=1,
        tree_roots=nodes.roots,
        nodes_featureids=nodes.feature,
        nodes_splits=numpy_helper.from_array(np.asarray(nodes.split, dtype=np.float64)),
        nodes_modes=numpy_helper.from_array(np.zeros(len(nodes.feature), dtype=np.uint8)),  # BRANCH_LEQ
        nodes_truenodeids=nodes.true_id,
        nodes_trueleafs=nodes.true_leaf,
        nodes_falsenodeids=nodes.false_id,
        nodes_falseleafs=nodes.false_leaf,
        leaf_targetids=[0] * len(nodes.leaf_weight),
        leaf_weights=numpy_helper.from_array(np.asarray(nodes.leaf_weight, dtype=np.float64)),
    )
    # The forest compares float32 features with float64 thresholds: round to float32, then widen (exact).
    widen = helper.make_node("Cast", [ONNX_INPUT], ["X64"], to=TensorProto.DOUBLE)
    graph = helper.make_graph(
        [widen, ensemble],
        "attrition_forest",
        [helper.make_tensor_value_info(ONNX_INPUT, TensorProto.FLOAT, [None, width])],
        [helper.make_tensor_value_info(ONNX_OUTPUT, TensorProto.DOUBLE, [None, 1])],
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("ai.onnx.ml", ML_OPSET)],
        ir_version=IR_VERSION,
        producer_name="model_store",
    )
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


class _Nodes:
    """The split nodes and leaves of all trees, numbered across the ensemble (TreeEnsemble's layout)."""

    def __init__(self) -> None:
        self.roots: list[int] = []
        self.feature: list[int] = []
        self.split: list[float] = []
        self.true_id: list[int] = []
        self.true_leaf: list[int] = []
        self.false_id: list[int] = []
        self.false_leaf: list[int] = []
        self.leaf_weight: list[float] = []

    def add_tree(self, tree: Any, positive: int) -> None:
        left, right = tree.children_left, tree.children_right
        is_leaf = left == -1
        splits, leaves = np.flatnonzero(~is_leaf), np.flatnonzero(is_leaf)
        ids = np.empty(tree.node_count, dtype=np.int64)
        ids[splits] = len(self.feature) + np.arange(len(splits))
        ids[leaves] = len(self.leaf_weight) + np.arange(len(leaves))
        values = tree.value[:, 0, :]
        totals = values.sum(axis=1)
        totals[totals == 0.0] = 1.0  # as DecisionTreeClassifier.predict_proba normalises
        self.leaf_weight.extend((values[leaves, positive] / totals[leaves]).tolist())
        if len(splits) == 0:
            # A tree that is one leaf: a split whose two branches both reach it.
            self.roots.append(len(self.feature))
            self._add_splits([0], [0.0], [ids[0]], [1], [ids[0]], [1])
            return
        self.roots.append(int(ids[0]))
        self._add_splits(
            tree.feature[splits],
            tree.threshold[splits],
            ids[left[splits]],
            is_leaf[left[splits]],
            ids[right[splits]],
            is_leaf[right[splits]],
        )

    def _add_splits(self, *columns: Any) -> None:
        feature, split, true_id, true_leaf, false_id, false_leaf = (np.asarray(c).tolist() for c in columns)
        self.feature.extend(int(x) for x in feature)
        self.split.extend(float(x) for x in split)
        self.true_id.extend(int(x) for x in true_id)
        self.true_leaf.extend(int(x) for x in true_leaf)
        self.false_id.extend(int(x) for x in false_id)
        self.false_leaf.extend(int(x) for x in false_leaf)
