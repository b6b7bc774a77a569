"""Small body-model files with the real keys and layouts of SMPL (24 joints) and SMPL-X (55 joints) and random
values around the rest skeleton: what a user's SMPL_NEUTRAL.pkl / SMPLX_NEUTRAL.npz holds, in miniature."""
import numpy as np

from intermask.motion.skeleton import NUM_JOINTS, PARENTS, rest_pose

VERTICES, JOINTS = 120, 24


def smpl_arrays(seed=0):
    """Arrays with SMPL's keys and layouts (24 joints) and random values around the rest skeleton."""
    rng = np.random.default_rng(seed)
    joints = np.concatenate([rest_pose(), rest_pose()[[20, 21]] + [[0.08, 0, 0], [-0.08, 0, 0]]])
    owner = rng.integers(0, JOINTS, VERTICES)
    template = joints[owner] + rng.normal(0, 0.03, (VERTICES, 3))
    regressor = np.zeros((JOINTS, VERTICES))
    regressor[owner, np.arange(VERTICES)] = rng.uniform(0.5, 1.0, VERTICES)
    regressor /= regressor.sum(axis=1, keepdims=True).clip(min=1e-9)
    weights = np.zeros((VERTICES, JOINTS))  # each vertex skinned to its joint and that joint's parent
    for v, j in enumerate(owner):
        parent = PARENTS[j] if j < NUM_JOINTS else j - 2  # the hands hang under the wrists
        weights[v, j] += 0.7
        weights[v, max(parent, 0)] += 0.3
    parents = np.array([4294967295, *PARENTS[1:], 20, 21], dtype=np.int64)
    return dict(v_template=template, f=rng.integers(0, VERTICES, (50, 3)), J_regressor=regressor,
                kintree_table=np.stack([parents, np.arange(JOINTS)]), weights=weights,
                shapedirs=rng.normal(0, 0.01, (VERTICES, 3, 10)), posedirs=rng.normal(0, 0.01, (VERTICES, 3, 207)))


# SMPL-X's tree: the 22 body joints, jaw and eyes under the head (15), 15 finger joints under each wrist (20, 21)
SMPLX_JOINTS = 55


def _smplx_parents():
    parents = [*PARENTS, 15, 15, 15]
    for wrist in (20, 21):
        for _ in range(5):  # three joints per finger, each under the one before
            parents += [wrist, len(parents), len(parents) + 1]
    return parents


def smplx_arrays(seed=0, vertices=200):
    """Arrays with SMPL-X's keys and layouts (55 joints, 10 shape + 10 expression components) and random values."""
    rng = np.random.default_rng(seed)
    parents = _smplx_parents()
    joints = np.zeros((SMPLX_JOINTS, 3))
    joints[:NUM_JOINTS] = rest_pose()
    for joint in range(NUM_JOINTS, SMPLX_JOINTS):  # a few centimetres from its parent
        joints[joint] = joints[parents[joint]] + rng.uniform(-0.04, 0.04, 3)
    owner = np.concatenate([np.arange(SMPLX_JOINTS), rng.integers(0, SMPLX_JOINTS, vertices - SMPLX_JOINTS)])
    template = joints[owner] + rng.normal(0, 0.005, (vertices, 3))
    regressor = np.zeros((SMPLX_JOINTS, vertices))
    regressor[owner, np.arange(vertices)] = rng.uniform(0.5, 1.0, vertices)
    regressor /= regressor.sum(axis=1, keepdims=True)
    weights = np.zeros((vertices, SMPLX_JOINTS))
    weights[np.arange(vertices), owner] = 1.0
    table = np.array([4294967295, *parents[1:]], dtype=np.int64)
    return dict(v_template=template, f=rng.integers(0, vertices, (80, 3)), J_regressor=regressor,
                kintree_table=np.stack([table, np.arange(SMPLX_JOINTS)]), weights=weights,
                shapedirs=rng.normal(0, 0.01, (vertices, 3, 20)),
                posedirs=rng.normal(0, 0.01, (vertices, 3, 9 * (SMPLX_JOINTS - 1))))


def write_smplx(path, seed=0):
    """An SMPLX_NEUTRAL.npz-like file at ``path``; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **smplx_arrays(seed))
    return path
