//! `grader`: a grading service for MIPS assembly programs, built on Warren.
//!
//! It is the example application of the broker: a request that takes long (running a
//! student's program on every test case) is accepted at once and done in the background.
//!
//! ```text
//!  browser/curl --HTTP--> serve --AMQP--> [grader.jobs] --AMQP--> worker x N
//!                          |  ^                                      |
//!                       SQLite +---AMQP--- [grader.results] <--------+
//! ```
//!
//! * [`serve`]: the HTTP API (JWT login, assignments, uploads), the web page, and the
//!   consumer that records results in SQLite.
//! * [`worker`]: consumes jobs with a prefetch window, grades them ([`grade`]) in the MIPS
//!   simulator, publishes results.
//! * [`protocol`]: the queues and message bodies, the contract between the two.
//! * [`amqp`]: connecting, declaring queues, publishing with confirms (lapin).
//!
//! The grader uses Warren only as any application would, over AMQP 0-9-1 with lapin; it
//! works unchanged against RabbitMQ.

pub mod amqp;
pub mod auth;
pub mod db;
pub mod grade;
pub mod protocol;
pub mod run;
pub mod serve;
pub mod users;
pub mod worker;
