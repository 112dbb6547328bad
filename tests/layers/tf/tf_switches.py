"""What a TensorFlow program sees of op determinism (tests/layers/tf/t_real.sh)."""
import tensorflow as tf
from tensorflow.python.util import _pywrap_determinism

print("python_query", _pywrap_determinism.is_enabled())
ds = tf.data.Dataset.range(8).map(lambda x: x * 2, num_parallel_calls=4, deterministic=False)
print("data", "ok" if sorted(ds.as_numpy_iterator()) == list(range(0, 16, 2)) else "wrong")
for name, op in (("timestamp", tf.timestamp), ("normal", lambda: tf.random.normal([2]))):
    try:
        op()
        print(name, "ok")
    except Exception as e:  # noqa: BLE001 - the error's type is what is checked
        print(name, type(e).__name__)
