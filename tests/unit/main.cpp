// doctest runner for the shared/ unit tests; initialises the libraries once, as `run` does.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "shared/base/log.h"
#include "shared/text/message_text.h"

int main(int argc, char** argv) {
    smsm::message_text_init();
    smsm::log::init(smsm::LogTo::Nowhere, false);  // the tests check results, not log lines
    doctest::Context context(argc, argv);
    return context.run();
}
