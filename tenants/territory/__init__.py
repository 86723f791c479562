"""Territory (street -> community -> grid -> compound -> building -> household), parties and people."""
