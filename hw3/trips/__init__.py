"""The trip data: TLC's monthly files (names, columns, checksums: manifest.toml), fetching them
or a mirror's copy, the synthetic sample, and the `hw3 data` command."""
