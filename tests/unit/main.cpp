// doctest runner for the shared/ unit tests; initialises the libraries once, as `run` does.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "shared/message_text.h"

int main(int argc, char** argv) {
    smsm::message_text_init();
    doctest::Context context(argc, argv);
    return context.run();
}
