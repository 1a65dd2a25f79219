"""The worker's jobs, one module each: extraction (`extract`), the end of a session
(`ending`), knowledge from facts (`reflect`) and housekeeping (`housekeeping`: expiry sweeps,
retention, embeddings, key rotation). Each job is idempotent and claims its scope with an
advisory lock, so any number of workers may run them at once and a worker killed mid-job
leaves nothing the next pass cannot finish. `reflection.worker` runs them."""
