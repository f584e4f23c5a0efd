// Placeholder until the convergence core lands.
