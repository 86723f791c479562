"""双报到 (dual registration): work units and in-service party members register at their communities and serve
there — posts (online and offline building heads), needs and project lists, micro-wishes 微心愿, activities with
attendance, the rules on absences, year-end reports, and emergency mobilisation 平急结合."""
