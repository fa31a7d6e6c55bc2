-- PROVIDED: the tables of steps 2 and 5 on MariaDB: the same seats and
-- purchases as on Postgres, in InnoDB (the engine whose locking the exercise
-- is about). No CHECK on `available`, for the same reason.
CREATE TABLE seats (
    event_id  int PRIMARY KEY,
    available int NOT NULL
) ENGINE = InnoDB;
CREATE TABLE purchases (
    id       bigint AUTO_INCREMENT PRIMARY KEY,
    event_id int NOT NULL,
    quantity int NOT NULL,
    FOREIGN KEY (event_id) REFERENCES seats (event_id)
) ENGINE = InnoDB;
