"""The classic XOR net, trained with symprop's compiled exact gradients, step for step against a hand-written numpy loop.

The network: layers [2, 3, 1], sigmoid everywhere, half squared error with the
gradient summed over the 4 samples (reduction "sum"), batch gradient descent
with learning rate 0.5 for 2,500 steps. The numpy loop stores its weights as
(inputs, outputs); symprop's ``W1[j, i]`` joins input i to neuron j, so
symprop starts from the transposes of the same random draws.

    python examples/xor.py
    symprop train --spec examples/xor.toml     # the same net from a spec file
"""

import numpy as np

import symprop
from symprop.nn import MLP
from symprop.train import train

SEED = 1
X = np.array([[1, 1], [0, 1], [1, 0], [0, 0]])
Y = np.array([[0], [1], [1], [0]])  # attempt to generalize a XOR gate


def numpy_loop(seed: int = SEED):
    """The hand-written numpy loop of many XOR tutorials (the plot left out), from a seeded RNG.

    Returns the initial and the final weights, and the last forward pass's output.
    """
    np.random.seed(seed)

    def activation(x):  # use sigmoid function for activation
        return 1 / (1 + np.exp(-x))

    def activation_deriv(sig_x):  # derivative of sigmoid function
        return sig_x * (1 - sig_x)  # pass in post-activation for efficiency

    def loss(y, y_pred):  # use mean squared error as loss function
        return ((y - y_pred) ** 2) / 2

    def loss_deriv(y, y_pred):  # derivative of loss function
        return y_pred - y

    learning_rate = 0.5
    max_iterations = 2_500
    costs = np.zeros(max_iterations)
    input_sz, hidden_sz, output_sz = X.shape[1], 3, Y.shape[1]
    w1 = np.random.uniform(-1, 1, size=(input_sz, hidden_sz))  # hidden weights
    w2 = np.random.uniform(-1, 1, size=(hidden_sz, output_sz))  # output weights
    b1 = np.random.uniform(-1, 1, size=(1, hidden_sz))  # hidden biases
    b2 = np.random.uniform(-1, 1, size=(1, output_sz))  # output biases
    initial = {"w1": w1.copy(), "w2": w2.copy(), "b1": b1.copy(), "b2": b2.copy()}

    for epoch in range(max_iterations):  # perform batch gradient descent
        z1 = X.dot(w1) + b1
        a1 = activation(z1)
        z2 = a1.dot(w2) + b2
        a2 = activation(z2)
        dA2 = loss_deriv(Y, a2)
        dZ2 = dA2 * activation_deriv(a2)
        dW2 = a1.T.dot(dZ2)
        dB2 = np.sum(dZ2, axis=0, keepdims=True)
        dA1 = dZ2.dot(w2.T)
        dZ1 = dA1 * activation_deriv(a1)
        dW1 = X.T.dot(dZ1)
        dB1 = np.sum(dZ1, axis=0, keepdims=True)
        w2 -= learning_rate * dW2
        w1 -= learning_rate * dW1
        b2 -= learning_rate * dB2
        b1 -= learning_rate * dB1
        costs[epoch] = np.mean(loss(Y, a2))
    return initial, {"w1": w1, "w2": w2, "b1": b1, "b2": b2}, a2


def to_symprop(w: dict) -> dict:
    """The loop's (in, out) weights and (1, out) biases as symprop's W (out, in) and b (out,)."""
    return {"W1": w["w1"].T.copy(), "b1": w["b1"][0].copy(), "W2": w["w2"].T.copy(), "b2": w["b2"][0].copy()}


def main() -> None:
    initial, final, a2 = numpy_loop()
    mlp = MLP([2, 3, 1], "sigmoid", "half_squared_error", reduction="sum")
    compiled = symprop.compile(mlp)
    result = train(compiled, to_symprop(initial), X, Y, steps=2500, lr=0.5, optimizer="sgd")

    expected = to_symprop(final)
    print("The backward pass symprop derived and compiled (from compiled.source):")
    lines = compiled.source.split("# backward")[1].split("return")[0].strip().splitlines()[1:]
    print("\n".join("    " + line.strip() for line in lines))
    print()
    print("After 2,500 steps from the same initial weights, |symprop - the numpy loop|:")
    worst = 0.0
    for name, value in result.params.items():
        diff = float(np.max(np.abs(value - expected[name])))
        worst = max(worst, diff)
        print(f"    {name}: max difference {diff:.1e}")
    assert worst < 1e-9, f"symprop and the numpy loop differ by {worst}"

    predictions = compiled.forward(result.params, X)
    accuracy = float(np.mean((predictions > 0.5) == Y))
    seed_accuracy = float(np.mean((a2 > 0.5) == Y))
    print(f"loss {result.loss_history[0]:.4f} -> {result.final_loss:.6f} (half squared error, summed)")
    print(f"predictions {(predictions > 0.5).astype(int).T[0]} for targets {Y.T[0]}: accuracy {accuracy:.0%}")
    print(f"  (the numpy loop: {seed_accuracy:.0%})")
    assert accuracy == 1.0 and seed_accuracy == 1.0


if __name__ == "__main__":
    main()
