"""A tiny DeePMD-kit training set (2 water molecules, 4 frames, fixed random numbers) and its
input.json: 5 steps of se_e2_a, seeds fixed (tests/layers/tf/t_dp_train.sh)."""
import json
import os
import sys

import numpy as np

out = sys.argv[1]
rng = np.random.default_rng(0)
os.makedirs(os.path.join(out, "data", "set.000"), exist_ok=True)
nat, nf = 6, 4
with open(os.path.join(out, "data", "type.raw"), "w") as f:
    f.write("0 1 1 0 1 1\n")
with open(os.path.join(out, "data", "type_map.raw"), "w") as f:
    f.write("O\nH\n")
s = os.path.join(out, "data", "set.000")
np.save(os.path.join(s, "coord.npy"), rng.random((nf, nat * 3)) * 4.0)
np.save(os.path.join(s, "box.npy"), np.tile(np.diag([8.0, 8.0, 8.0]).reshape(1, 9), (nf, 1)))
np.save(os.path.join(s, "energy.npy"), rng.random(nf))
np.save(os.path.join(s, "force.npy"), rng.random((nf, nat * 3)) - 0.5)
inp = {"model": {"type_map": ["O", "H"],
                 "descriptor": {"type": "se_e2_a", "sel": [8, 16], "rcut_smth": 0.5, "rcut": 4.0,
                                "neuron": [4, 8], "axis_neuron": 4, "seed": 1},
                 "fitting_net": {"neuron": [8, 8], "seed": 1}},
       "learning_rate": {"type": "exp", "start_lr": 0.001, "stop_lr": 1e-5, "decay_steps": 5},
       "loss": {"type": "ener", "start_pref_e": 0.02, "limit_pref_e": 1, "start_pref_f": 1000,
                "limit_pref_f": 1},
       "training": {"training_data": {"systems": ["data"], "batch_size": 1}, "numb_steps": 5,
                    "seed": 1, "disp_file": "lcurve.out", "disp_freq": 1, "save_freq": 5}}
with open(os.path.join(out, "input.json"), "w") as f:
    json.dump(inp, f, indent=1)
